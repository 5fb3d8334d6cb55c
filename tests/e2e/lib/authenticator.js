// The person's authenticator app: TOTP codes (RFC 6238: SHA-1, six digits, 30 s — what
// Portcullis enrols) computed from the base32 key the enrolment page shows.
import { Secret, TOTP } from 'otpauth';

const PERIOD = 30;
const totp = (key) => new TOTP({
  secret: Secret.fromBase32(key), algorithm: 'SHA1', digits: 6, period: PERIOD,
});

/// The 30-second step the clock is in.
export const stepNow = () => Math.floor(Date.now() / 1000 / PERIOD);

/// The code the app shows during `step`.
export const codeAt = (key, step) => totp(key).generate({ timestamp: step * PERIOD * 1000 });

/// A code from a step later than `used` (a code counts once): the current one, or the
/// next while `used` is still running — one step ahead is within the skew Portcullis
/// accepts, so the suite need not wait for the app's next code.
export const codeAfter = (key, used) => codeAt(key, Math.max(stepNow(), used + 1));

/// Six digits the app would not accept around now (neither this step nor its neighbours).
export function wrongCode(key) {
  const now = stepNow();
  const valid = [now - 1, now, now + 1].map((s) => codeAt(key, s));
  for (let n = 1; ; n += 1) {
    const guess = String((Number(valid[1]) + n) % 1_000_000).padStart(6, '0');
    if (!valid.includes(guess)) return guess;
  }
}
