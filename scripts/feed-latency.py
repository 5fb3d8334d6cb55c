#!/usr/bin/env python3
"""How long a revocation takes to reach a follower of the revocation feed (#14 item 2).

  feed-latency.py WRITE_BASE FOLLOW_BASE CLIENT SECRET N

CLIENT must be a resource server (introspection = "any") allowed client_credentials.
A thread follows FOLLOW_BASE/revocations as Server-Sent Events; N times, the script
takes a client_credentials token from WRITE_BASE and revokes it there, then waits for
its `jti` on the stream. Prints milliseconds from the moment /revoke answered to the
event's arrival: "p50 p99 max". Standard library only.
"""
import base64, http.client, json, sys, threading, time
from urllib.parse import urlencode, urlparse


def connection(base):
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def main():
    write, follow, client, secret, n = sys.argv[1:6]
    n = int(n)
    auth = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
    arrived, lock = {}, threading.Condition()

    def listen():
        conn = connection(follow)
        conn.request("GET", "/revocations", headers={
            "Authorization": auth, "Accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.status == 200, response.status
        while True:
            line = response.fp.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                with lock:
                    arrived[event.get("jti")] = time.monotonic()
                    lock.notify_all()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)  # the stream is open
    conn = connection(write)
    form = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}

    def post(path, body):
        conn.request("POST", path, body=urlencode(body), headers=form)
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, (path, response.status, data)
        return data

    latencies = []
    for _ in range(n):
        token = json.loads(post("/token", {"grant_type": "client_credentials"}))["access_token"]
        payload = token.split(".")[1]
        jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
        post("/revoke", {"token": token})
        answered = time.monotonic()
        with lock:
            if not lock.wait_for(lambda: jti in arrived, timeout=10):
                sys.exit(f"the revocation of {jti} never arrived")
            latencies.append(max(0.0, arrived[jti] - answered) * 1000)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"{pick(0.5):.0f} {pick(0.99):.0f} {latencies[-1]:.0f}")


if __name__ == "__main__":
    main()
