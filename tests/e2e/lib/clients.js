// The applications of the suite, each a real HTTP server on its own loopback port:
// the single-page app (static files, oidc-client-ts in the browser), a confidential web
// client (a server-side relying party), and an attacker's page.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { WEB_SECRET } from './portcullis.js';

const here = dirname(fileURLToPath(import.meta.url));

function listen(handler) {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((e) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`test client failed: ${e.stack}`);
    });
  });
  return new Promise((done) => {
    server.listen(0, '127.0.0.1', () => done({
      server,
      origin: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, title, body, headers = {}) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`);
}

function redirect(res, location, headers = {}) {
  res.writeHead(302, { location, ...headers });
  res.end();
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/// The SPA: `spa/` as static files, oidc-client-ts's browser build at /lib/, and its
/// settings at /config.js. Every path without a file serves the app (it routes itself).
export async function startSpa(settings) {
  const oidcBuild = join(here, '../node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js');
  const files = {
    '/app.js': ['text/javascript', () => readFileSync(join(here, '../spa/app.js'))],
    '/lib/oidc-client-ts.min.js': ['text/javascript', () => readFileSync(oidcBuild)],
    '/config.js': ['text/javascript', () => `window.PORTCULLIS = ${JSON.stringify(settings())};`],
  };
  return listen((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const [type, body] = files[path] || ['text/html; charset=utf-8', () => readFileSync(join(here, '../spa/index.html'))];
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body());
  });
}

/// A confidential web client ("Photo Gallery"), as a server-side application would be
/// written: PKCE S256, state and nonce kept on the server, `iss` checked (RFC 9207),
/// the code redeemed with client_secret_basic, the ID token verified against the JWKS.
///
/// GET /start?mode=query|form_post · /callback (GET or POST) · /refresh · /logout[?hint=no]
/// · /signed-out
export async function startWebClient(issuerOf) {
  const pending = new Map(); // state → { verifier, nonce, mode, visitor }
  const signedIn = new Map(); // visitor cookie → tokens
  const basic = 'Basic ' + Buffer.from(`web:${WEB_SECRET}`).toString('base64');
  let jwks;
  const visitorOf = (req) => /(?:^|; )rp=([\w-]+)/.exec(req.headers.cookie || '')?.[1];

  async function token(params) {
    const response = await fetch(`${issuerOf()}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    return { status: response.status, body: await response.json() };
  }

  async function callback(res, params) {
    const state = params.get('state');
    const started = pending.get(state);
    pending.delete(state);
    if (!started) return page(res, 'Photo Gallery', '<p id="result">Refused: unknown state</p>');
    if (params.get('iss') !== issuerOf()) return page(res, 'Photo Gallery', '<p id="result">Refused: wrong issuer</p>');
    if (params.get('error')) {
      return page(res, 'Photo Gallery', `<p id="result">Access was not granted: ${escape(params.get('error'))}</p>`);
    }
    const { status, body } = await token({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: `${origin}/callback`,
      code_verifier: started.verifier,
    });
    if (status !== 200) return page(res, 'Photo Gallery', `<p id="result">Token request failed: ${escape(body.error)}</p>`);
    jwks ||= createRemoteJWKSet(new URL(`${issuerOf()}/jwks`));
    const { payload } = await jwtVerify(body.id_token, jwks, { issuer: issuerOf(), audience: 'web' });
    if (payload.nonce !== started.nonce) return page(res, 'Photo Gallery', '<p id="result">Refused: wrong nonce</p>');
    // OpenID Connect Core §5.3.2: the profile, for the ID token's subject only.
    const userinfo = await (await fetch(`${issuerOf()}/userinfo`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    })).json();
    if (userinfo.sub !== payload.sub) return page(res, 'Photo Gallery', '<p id="result">Refused: another subject</p>');
    signedIn.set(started.visitor, body);
    page(res, 'Photo Gallery',
      `<p id="result">Signed in as ${escape(userinfo.name)} (${escape(userinfo.email)}) with ${started.mode}</p>`);
  }

  const client = await listen(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const visitor = visitorOf(req);
    switch (url.pathname) {
      case '/start': {
        const verifier = b64url(randomBytes(32));
        const state = b64url(randomBytes(16));
        const nonce = b64url(randomBytes(16));
        const mode = url.searchParams.get('mode') || 'query';
        const id = visitor || b64url(randomBytes(16));
        pending.set(state, { verifier, nonce, mode, visitor: id });
        const authorize = new URL(`${issuerOf()}/authorize`);
        authorize.search = new URLSearchParams({
          response_type: 'code',
          client_id: 'web',
          redirect_uri: `${origin}/callback`,
          scope: 'openid profile email offline_access',
          state,
          nonce,
          code_challenge: b64url(createHash('sha256').update(verifier).digest()),
          code_challenge_method: 'S256',
          response_mode: mode,
        });
        return redirect(res, authorize.href, { 'set-cookie': `rp=${id}; Path=/; HttpOnly; SameSite=Lax` });
      }
      case '/callback':
        return callback(res, req.method === 'POST' ? await formBody(req) : url.searchParams);
      case '/refresh': {
        const tokens = signedIn.get(visitor);
        if (!tokens) return page(res, 'Photo Gallery', '<p id="result">Not signed in</p>');
        const { status, body } = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
        if (status !== 200) return page(res, 'Photo Gallery', `<p id="result">Refresh failed: ${escape(body.error)}</p>`);
        signedIn.set(visitor, { ...tokens, ...body });
        return page(res, 'Photo Gallery', '<p id="result">Refreshed: a new access token</p>');
      }
      case '/logout': {
        const tokens = signedIn.get(visitor);
        signedIn.delete(visitor);
        const end = new URL(`${issuerOf()}/logout`);
        const params = { post_logout_redirect_uri: `${origin}/signed-out`, state: 'bye' };
        if (url.searchParams.get('hint') === 'no' || !tokens) params.client_id = 'web';
        else params.id_token_hint = tokens.id_token;
        end.search = new URLSearchParams(params);
        return redirect(res, end.href);
      }
      case '/signed-out':
        return page(res, 'Photo Gallery',
          `<p id="result">Signed out of Photo Gallery (state ${escape(url.searchParams.get('state'))})</p>`);
      default:
        res.writeHead(404);
        return res.end();
    }
  });
  const { origin } = client;
  return client;
}

/// An attacker's site. For each form, it first does what anyone can do from a server:
/// fetch our page to get a binding cookie and its CSRF token (and, for consent, start an
/// authorization request bound to that cookie). Its page then plants the cookie — a
/// page on another port of the same host can, since cookies ignore ports — and
/// auto-submits the form with the valid token. Only the browser's word on where the POST
/// comes from (`Origin`, `Sec-Fetch-Site`) can stop it.
///
/// GET /attack/{login,consent,logout}[?referrer=no-referrer]
export async function startAttacker(issuerOf, cookieName, webOrigin) {
  async function ownBinding() {
    const response = await fetch(`${issuerOf()}/login`);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}=`)).split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await response.text())[1];
    return { cookie, csrf };
  }

  async function pendingRequest(cookie) {
    const authorize = new URL(`${issuerOf()}/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code', client_id: 'web', redirect_uri: `${webOrigin}/callback`,
      scope: 'openid', state: 'attack', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256',
    });
    const response = await fetch(authorize, { headers: { cookie }, redirect: 'manual' });
    return new URL(response.headers.get('location'), issuerOf()).searchParams.get('request');
  }

  return listen(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const target = url.pathname.replace('/attack/', '');
    const { cookie, csrf } = await ownBinding();
    const fields = { csrf };
    let action;
    if (target === 'login') {
      action = '/login';
      Object.assign(fields, { username: 'mallory', password: 'correct horse battery staple' });
    } else if (target === 'consent') {
      action = '/consent';
      Object.assign(fields, { request: await pendingRequest(cookie), decision: 'allow' });
    } else if (target === 'logout') {
      action = '/logout/confirm';
    } else {
      res.writeHead(404);
      return res.end();
    }
    const policy = url.searchParams.get('referrer') || 'strict-origin-when-cross-origin';
    const inputs = Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`).join('');
    page(res, 'You won a prize',
      `<form method="post" action="${issuerOf()}${action}">${inputs}</form>`
      + '<script>document.forms[0].submit()</script>',
      { 'set-cookie': `${cookie}; Path=/`, 'referrer-policy': policy });
  });
}
