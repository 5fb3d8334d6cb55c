// Starts a real Portcullis server (SQLite in a throwaway folder) on a free loopback port,
// configured for the test clients, and stops it by PID whatever happens.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PASSWORD = 'correct horse battery staple';
export const WEB_SECRET = 'web-client-secret-0123456789abcdef';

/// The people of the suite: each scenario signs in as its own, so none sees another's
/// sessions, consents or failure counts.
export const PEOPLE = {
  alice: 'Alice Liddell',
  bob: 'Bob Marley',
  carol: 'Carol Danvers',
  dave: 'Dave Bowman',
  erin: 'Erin Brockovich',
  frank: 'Frank Herbert',
  mallory: 'Mallory Attacker',
  grace: 'Grace Hopper',
  ivan: 'Ivan Pavlov',
};

/// The upstream provider's own people, and this Portcullis's client there.
export const UPSTREAM_PERSON = { username: 'ulla', name: 'Ulla Upstream' };
export const UPSTREAM_LINKER = { username: 'uwe', name: 'Uwe Upstream' };
const UPSTREAM_CLIENT = 'portcullis';
const UPSTREAM_SECRET = 'upstream-client-secret-0123456789abcdef';

/// A port nobody listens on now (the kernel's choice), for a server that must know its
/// own URL before it starts.
export function freePort(host = '127.0.0.1') {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

const pids = new Set();
function killAll() {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { killAll(); process.exit(130); });
}

/// Another Portcullis as the upstream OpenID Connect provider ("Corp"), on 127.0.0.2:
/// cookies ignore ports, so a second host keeps the two servers' cookies apart, as two
/// sites would. This Portcullis is its client; any port of 127.0.0.1 (RFC 8252 §7.3).
function upstreamConfig({ port, dataDir }) {
  return `listen = "127.0.0.2:${port}"
data_dir = "${dataDir}"

[log]
level = "warn"

${[UPSTREAM_PERSON, UPSTREAM_LINKER].map((p) => `
[[users]]
username = "${p.username}"
name = "${p.name}"
email = "${p.username}@corp.test"
email_verified = true
password = "${PASSWORD}"
`).join('')}
[[clients]]
client_id = "${UPSTREAM_CLIENT}"
client_name = "Portcullis"
client_secret = "${UPSTREAM_SECRET}"
redirect_uris = ["http://127.0.0.1/federation/corp/callback"]
skip_consent = true
`;
}

function config({ port, dataDir, spa, web, upstream }) {
  const users = Object.entries(PEOPLE).map(([username, name]) => `
[[users]]
username = "${username}"
name = "${name}"
email = "${username}@example.test"
email_verified = true
password = "${PASSWORD}"`).join('\n');
  return `listen = "127.0.0.1:${port}"
data_dir = "${dataDir}"

[log]
level = "warn"

[sign_in]
max_failures_per_account = 3

[keys]
reload_interval = "1s"
${upstream ? `
[federation]
allow_private_addresses = true

[[upstreams]]
id = "corp"
display_name = "Corp"
issuer = "${upstream}"
client_id = "${UPSTREAM_CLIENT}"
client_secret = "${UPSTREAM_SECRET}"
` : ''}${users}

[[clients]]
client_id = "spa"
client_name = "Photo app"
public = true
redirect_uris = ["${spa}/callback"]
post_logout_redirect_uris = ["${spa}/signed-out"]
allowed_origins = ["${spa}"]

[[clients]]
client_id = "web"
client_name = "Photo Gallery"
client_secret = "${WEB_SECRET}"
redirect_uris = ["${web}/callback"]
post_logout_redirect_uris = ["${web}/signed-out"]
`;
}

/// Starts Portcullis for clients at `spa` and `web` (origins), with `upstream` (an
/// issuer) as its "Corp" provider; without clients, it is that upstream itself. Resolves
/// once it is ready.
export async function startPortcullis({ spa, web, upstream, logFile }) {
  const bin = resolve(process.env.E2E_SERVER_BIN || '../../target/debug/portcullis');
  const host = spa ? '127.0.0.1' : '127.0.0.2';
  const port = await freePort(host);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-'));
  const file = join(dir, 'portcullis.toml');
  const dataDir = join(dir, 'data');
  writeFileSync(file, spa
    ? config({ port, dataDir, spa, web, upstream })
    : upstreamConfig({ port, dataDir }));
  // Only the file configures it: PORTCULLIS_* variables of the caller would override it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_')));
  const child = spawn(bin, ['--config', file, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  pids.add(child.pid);
  // scripts/e2e kills what is listed here even if this process is killed outright.
  if (process.env.E2E_PIDFILE) appendFileSync(process.env.E2E_PIDFILE, `${child.pid}\n`);
  const log = (chunk) => appendFileSync(logFile, chunk);
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  const issuer = `http://${host}:${port}`;
  const exited = new Promise((done) => child.once('exit', (code) => done(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (code !== undefined) throw new Error(`portcullis exited with ${code}; see ${logFile}`);
    try {
      if ((await fetch(`${issuer}/readyz`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`portcullis did not get ready; see ${logFile}`);
  }
  return {
    issuer,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      pids.delete(child.pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
