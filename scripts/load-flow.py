#!/usr/bin/env python3
"""The browser side of the load harness (scripts/load), standard library only.

  load-flow.py seed BASE CLIENT SECRET SCOPE N     # N sign-ins; prints "access refresh" per line
  load-flow.py signin BASE CLIENT SECRET SECONDS CONCURRENCY
      # full sign-in + code exchange in a loop; prints "rps p50_ms p99_ms errors"
  load-flow.py password BASE CLIENT SECRET SECONDS CONCURRENCY
      # the sign-in form alone (GET and POST /login) in a loop; same output

Each sign-in is what a browser and a confidential client do: /authorize, the sign-in
form (CSRF token from the page), /authorize/resume, the redirect with the code, then
POST /token with PKCE. The client must skip consent. Like a browser, each Browser keeps
its connection open between requests.
"""
import base64, hashlib, http.client, json, re, secrets, sys, threading, time
from urllib.parse import urlencode, urlparse, parse_qs

CALLBACK = "https://load.test/cb"
USER, PASSWORD = "load", "load-test-password-0123456789"


class Browser:
    def __init__(self, base):
        u = urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.cookies = {}

        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed an idle keep-alive connection: open another.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, r.getheader("Location"), data

    def close(self):
        if self.conn is not None:
            self.conn.close()


def sign_in(base, client, secret, scope):
    b = Browser(base)
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urlencode({"response_type": "code", "client_id": client, "redirect_uri": CALLBACK, "scope": scope,
                   "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
    _, login, _ = b.request("GET", "/authorize?" + q)
    _, _, page = b.request("GET", login)
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    request_id = parse_qs(urlparse(login).query)["request"][0]
    form = urlencode({"csrf": csrf, "username": USER, "password": PASSWORD, "request": request_id})
    status, resume, _ = b.request("POST", "/login", form)
    if status != 303:
        raise RuntimeError(f"sign-in answered {status}")
    _, callback, _ = b.request("GET", resume)
    code = parse_qs(urlparse(callback).query)["code"][0]
    auth = base64.b64encode(f"{client}:{secret}".encode()).decode()
    form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                      "code_verifier": verifier})
    status, _, body = b.request("POST", "/token", form, {"Authorization": "Basic " + auth})
    b.close()
    if status != 200:
        raise RuntimeError(f"token answered {status}: {body[:200]}")
    return json.loads(body)


def password_only(base):
    """The sign-in form alone: GET /login for the CSRF token, POST /login."""
    b = Browser(base)
    _, _, page = b.request("GET", "/login")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
    status, _, _ = b.request("POST", "/login", urlencode({"csrf": csrf, "username": USER, "password": PASSWORD}))
    b.close()
    if status != 303:
        raise RuntimeError(f"sign-in answered {status}")


def seed(base, client, secret, scope, n):
    for _ in range(int(n)):
        t = sign_in(base, client, secret, scope)
        print(t["access_token"], t.get("refresh_token", "-"))


def signin_loop(base, client, secret, seconds, concurrency, what="flow"):
    deadline = time.monotonic() + float(seconds)
    latencies, errors, lock = [], [0], threading.Lock()

    def worker():
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                if what == "flow":
                    sign_in(base, client, secret, "openid")
                else:
                    password_only(base)
                with lock:
                    latencies.append(time.monotonic() - t0)
            except Exception:
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(int(concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
    print(f"{len(latencies) / float(seconds):.1f} {pct(0.5):.1f} {pct(0.99):.1f} {errors[0]}")


if __name__ == "__main__":
    if sys.argv[1] == "password":
        signin_loop(*sys.argv[2:], what="password")
    else:
        {"seed": seed, "signin": signin_loop}[sys.argv[1]](*sys.argv[2:])
