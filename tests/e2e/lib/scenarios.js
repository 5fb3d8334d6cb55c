// The scenarios, run in one browser: every flow a person goes through on our pages, each
// step asserting what the person sees. Each scenario has a fresh browser profile and its
// own person; the servers (Portcullis and the three clients) are shared by the scenarios
// of one browser and started afresh for each browser.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { arrivedAt, launch, openTab, step, see, fill, press, shot, RESULTS } from './browser.js';
import { startAttacker, startSpa, startWebClient } from './clients.js';
import { codeAfter, codeAt, stepNow, wrongCode } from './authenticator.js';
import {
  PASSWORD, PEOPLE, UPSTREAM_LINKER, UPSTREAM_PERSON, startPortcullis,
} from './portcullis.js';

export function suite(browserName) {
  describe(browserName, { timeout: 180_000 }, () => {
    let browser;
    let portcullis;
    let spa;
    let web;
    let attacker;
    let upstream;
    const issuer = () => portcullis.issuer;

    before(async () => {
      mkdirSync(RESULTS, { recursive: true });
      spa = await startSpa(() => ({ issuer: issuer() }));
      web = await startWebClient(issuer);
      attacker = await startAttacker(issuer, 'portcullis_csrf', web.origin);
      upstream = await startPortcullis({
        logFile: join(RESULTS, `upstream-${browserName}.log`),
      });
      portcullis = await startPortcullis({
        spa: spa.origin,
        web: web.origin,
        upstream: upstream.issuer,
        logFile: join(RESULTS, `portcullis-${browserName}.log`),
      });
      browser = await launch(browserName);
    });

    after(async () => {
      await browser?.close();
      await portcullis?.stop();
      await upstream?.stop();
      await Promise.all([spa, web, attacker].filter(Boolean).map((s) => s.close()));
    });

    /// A scenario in a fresh profile; `run(tab)` does the steps.
    const scenario = (name, run) => test(name, async () => {
      const tab = await openTab(browser);
      tab.browserName = browserName;
      tab.label = `${browserName}/${name}`;
      try {
        await run(tab);
      } finally {
        await tab.done();
      }
    });

    const go = (tab, url) => tab.goto(url, { waitUntil: 'load' });

    /// The sign-in page, as the person fills it in.
    async function signIn(tab, username, { password = PASSWORD, app, screenshot } = {}) {
      await see(tab, 'Username');
      if (app) await see(tab, `to continue to ${app}`);
      if (screenshot) await shot(tab, screenshot);
      await fill(tab, '#username', username);
      await fill(tab, '#password', password);
      await press(tab, 'Sign in');
    }

    async function allow(tab, app, { screenshot } = {}) {
      await see(tab, `Allow ${app}?`);
      if (screenshot) await shot(tab, screenshot);
      await press(tab, 'Allow');
    }

    /// Signed in to the web client through the code flow: the password when there is no
    /// session yet, consent when asked.
    async function webSignIn(tab, username, mode = 'query') {
      await go(tab, `${web.origin}/start?mode=${mode}`);
      let text = await see(tab, /Username|Allow Photo Gallery\?|Signed in as/);
      if (text.includes('Username')) {
        await signIn(tab, username, { app: 'Photo Gallery' });
        text = await see(tab, /Allow Photo Gallery\?|Signed in as/);
      }
      if (text.includes('Allow Photo Gallery?')) await allow(tab, 'Photo Gallery');
      await see(tab, `Signed in as ${PEOPLE[username]} (${username}@example.test) with ${mode}`);
    }

    scenario('SPA: sign in, profile, renew, sign out, sign in again', async (tab) => {
      await step(tab, 'open the app', async () => {
        await go(tab, spa.origin);
        await see(tab, 'Not signed in');
      });
      await step(tab, 'sign in on Portcullis', async () => {
        await press(tab, 'Sign in');
        await signIn(tab, 'alice', { app: 'Photo app', screenshot: 'login' });
      });
      await step(tab, 'consent', async () => {
        await see(tab, 'Keep access while you are not using it');
        await allow(tab, 'Photo app', { screenshot: 'consent' });
      });
      await step(tab, 'back in the app with the name from the ID token', async () => {
        await see(tab, 'Signed in as Alice Liddell');
        await arrivedAt(tab, spa.origin);
      });
      await step(tab, 'userinfo over CORS', async () => {
        await press(tab, 'Load my profile');
        await see(tab, 'Your email: alice@example.test');
      });
      await step(tab, 'renew with the refresh token', async () => {
        await press(tab, 'Renew');
        await see(tab, 'Renewed: a new access token');
      });
      await step(tab, 'sign out through end_session_endpoint', async () => {
        await press(tab, 'Sign out');
        await see(tab, 'You are signed out');
        await arrivedAt(tab, spa.origin);
      });
      await step(tab, 'signing in again asks for the password', async () => {
        await press(tab, 'Sign in');
        await see(tab, 'to continue to Photo app');
        assert.ok(await tab.$('input[type=password]'), 'a password field');
      });
    });

    scenario('two-step verification: turn it on, step up in the SPA, recovery codes, turn it off', async (tab) => {
      let key;
      let used; // the step of the last code from the app
      let codes;
      let replaced;
      const recoveryCodes = () => tab.$$eval('ul.codes code', (cs) => cs.map((c) => c.textContent));
      await step(tab, 'the account page leads to it', async () => {
        await go(tab, `${issuer()}/login`);
        await signIn(tab, 'grace');
        await see(tab, 'You are signed in as grace');
        await tab.locator('a[href="/account/mfa"]').click();
        await see(tab, 'Scan this code with an authenticator app');
      });
      await step(tab, 'a QR code drawn by the server, and the key as text', async () => {
        assert.ok(await tab.$('figure.qr svg'), 'an inline SVG QR code');
        key = await tab.$eval('#secret', (e) => e.dataset.otpSecret);
        assert.match(key, /^[A-Z2-7]{32}$/);
        await shot(tab, 'mfa-enrol');
      });
      await step(tab, 'a wrong code does not turn it on', async () => {
        await fill(tab, '#code', wrongCode(key));
        await press(tab, 'Turn on');
        await see(tab, 'That code is not right');
        await see(tab, 'Scan this code with an authenticator app');
        assert.equal(await tab.$eval('#secret', (e) => e.dataset.otpSecret), key, 'the same key');
      });
      await step(tab, "the app's code turns it on; ten recovery codes, shown once", async () => {
        used = stepNow();
        await fill(tab, '#code', codeAt(key, used));
        await press(tab, 'Turn on');
        await see(tab, 'Your recovery codes');
        codes = await recoveryCodes();
        assert.equal(codes.length, 10);
        await shot(tab, 'recovery-codes');
        await tab.locator('#continue').click();
        await see(tab, 'Two-step verification is on. 10 recovery codes are left.');
        await shot(tab, 'mfa-on');
      });

      // On another device: the SPA signs in with the password, then asks for more.
      const spaTab = await openTab(browser);
      spaTab.browserName = browserName;
      spaTab.label = `${tab.label}/spa`;
      try {
        await step(spaTab, 'signed in to the SPA with a password', async () => {
          await go(spaTab, spa.origin);
          await see(spaTab, 'Not signed in');
          await press(spaTab, 'Sign in');
          await signIn(spaTab, 'grace', { app: 'Photo app' });
          await allow(spaTab, 'Photo app');
          await see(spaTab, 'Signed in as Grace Hopper');
          await see(spaTab, 'Level urn:portcullis:acr:pwd by pwd');
        });
        await step(spaTab, 'the SPA asks for mfa: a code page, no password', async () => {
          await press(spaTab, "Verify it's me");
          await see(spaTab, 'Enter your code');
          await see(spaTab, 'Photo app asks for a second step');
          assert.equal(await spaTab.$('input[type=password]'), null, 'no password field');
          assert.equal(await spaTab.$eval('#code', (e) => e.getAttribute('autocomplete')), 'one-time-code');
          await shot(spaTab, 'login-otp');
        });
        await step(spaTab, 'a wrong code is named as such', async () => {
          await fill(spaTab, '#code', wrongCode(key));
          await press(spaTab, 'Verify');
          await see(spaTab, 'That code is not right');
          await shot(spaTab, 'login-otp-error');
        });
        await step(spaTab, "the app's code: back in the SPA, which shows the level", async () => {
          await fill(spaTab, '#code', codeAfter(key, used));
          await press(spaTab, 'Verify');
          await see(spaTab, 'Level urn:portcullis:acr:mfa by pwd, otp, mfa');
          await arrivedAt(spaTab, spa.origin);
        });
      } finally {
        await spaTab.done();
      }

      await step(tab, 'new recovery codes, proven with a recovery code', async () => {
        await go(tab, `${issuer()}/account/mfa`);
        await fill(tab, '#renew-code', codes[0]);
        await press(tab, 'New recovery codes');
        await see(tab, 'Your recovery codes');
        const renewed = await recoveryCodes();
        assert.equal(renewed.length, 10);
        assert.ok(renewed.every((c) => !codes.includes(c)), 'all of them new');
        [replaced, codes] = [codes, renewed];
        await tab.locator('#continue').click();
        await see(tab, '10 recovery codes are left');
      });
      await step(tab, 'the codes they replaced no longer count', async () => {
        await fill(tab, '#remove-code', replaced[2]);
        await press(tab, 'Turn off two-step verification');
        await see(tab, 'That code is not right');
        await see(tab, 'Two-step verification is on.');
      });
      await step(tab, 'turned off with a recovery code', async () => {
        await fill(tab, '#remove-code', codes[1]);
        await press(tab, 'Turn off two-step verification');
        await see(tab, 'Scan this code with an authenticator app');
      });
    });

    scenario('federation: continue with Corp into the SPA, then step up on top of it', async (tab) => {
      await step(tab, 'the sign-in page offers Corp', async () => {
        await go(tab, spa.origin);
        await see(tab, 'Not signed in');
        await press(tab, 'Sign in');
        await see(tab, 'to continue to Photo app');
        await see(tab, 'Continue with Corp');
        await shot(tab, 'login-providers');
        await press(tab, 'Continue with Corp');
      });
      await step(tab, "Corp's own sign-in page", async () => {
        await see(tab, 'Username');
        await arrivedAt(tab, `${upstream.issuer}/login`);
        await fill(tab, '#username', UPSTREAM_PERSON.username);
        await fill(tab, '#password', PASSWORD);
        await press(tab, 'Sign in');
      });
      await step(tab, 'back here: consent, then the SPA signed in through Corp', async () => {
        await allow(tab, 'Photo app');
        await see(tab, `Signed in as ${UPSTREAM_PERSON.name}`);
        await see(tab, 'Level urn:portcullis:acr:pwd by fed');
        await arrivedAt(tab, spa.origin);
      });
      let key;
      await step(tab, 'the person turns on two-step verification here', async () => {
        await go(tab, `${issuer()}/account/mfa`);
        await see(tab, 'Scan this code with an authenticator app');
        key = await tab.$eval('#secret', (e) => e.dataset.otpSecret);
        await fill(tab, '#code', codeAt(key, stepNow()));
        await press(tab, 'Turn on');
        await see(tab, 'Your recovery codes');
      });
      await step(tab, 'the SPA asks for mfa: the session has it, on top of Corp', async () => {
        await go(tab, spa.origin);
        await see(tab, `Signed in as ${UPSTREAM_PERSON.name}`);
        await press(tab, "Verify it's me");
        await see(tab, 'Level urn:portcullis:acr:mfa by fed, otp, mfa');
      });
    });

    scenario('federation: link Corp to an account, then unlink it', async (tab) => {
      await step(tab, 'the sign-in methods page', async () => {
        await go(tab, `${issuer()}/login`);
        await signIn(tab, 'ivan');
        await see(tab, 'You are signed in as ivan');
        await tab.locator('a[href="/account/providers"]').click();
        await see(tab, 'Sign-in methods');
        await see(tab, 'Link Corp');
        await shot(tab, 'providers');
      });
      await step(tab, 'link: sign in at Corp, back on the page', async () => {
        await press(tab, 'Link Corp');
        await see(tab, 'Username');
        await arrivedAt(tab, `${upstream.issuer}/login`);
        await fill(tab, '#username', UPSTREAM_LINKER.username);
        await fill(tab, '#password', PASSWORD);
        await press(tab, 'Sign in');
        await see(tab, `Linked as ${UPSTREAM_LINKER.username}@corp.test`);
        await arrivedAt(tab, `${issuer()}/account/providers`);
        await shot(tab, 'providers-linked');
      });
      await step(tab, 'unlink', async () => {
        await press(tab, 'Unlink Corp');
        await see(tab, 'Link Corp');
        await tab.waitForFunction(() => !document.body.innerText.includes('Linked as'));
      });
    });

    scenario('federation: a callback that is not ours gets a page that offers to try again', async (tab) => {
      await step(tab, 'an answer from Corp this browser never asked for', async () => {
        await go(tab, `${issuer()}/federation/corp/callback?code=forged&state=forged`);
        await see(tab, 'Signing in with Corp did not work');
        await see(tab, 'This sign-in has expired or was started in another browser.');
        await shot(tab, 'federation-failed');
      });
      await step(tab, 'trying again starts from the sign-in page', async () => {
        await tab.locator('#retry').click();
        await see(tab, 'Continue with Corp');
        await arrivedAt(tab, `${issuer()}/login`);
      });
    });

    scenario('web client: the code flow with response_mode query, then form_post', async (tab) => {
      await step(tab, 'query: sign in and consent', async () => {
        await webSignIn(tab, 'bob', 'query');
      });
      const second = await openTab(browser);
      second.browserName = browserName;
      second.label = `${tab.label}/form_post`;
      try {
        await step(second, 'form_post: sign in, consent remembered', async () => {
          await go(second, `${web.origin}/start?mode=form_post`);
          await signIn(second, 'bob', { app: 'Photo Gallery' });
          await see(second, 'Signed in as Bob Marley (bob@example.test) with form_post');
        });
      } finally {
        await second.done();
      }
    });

    scenario('refusals: denied consent, wrong password, lockout', async (tab) => {
      await step(tab, 'denying consent tells the client access_denied', async () => {
        await go(tab, `${web.origin}/start`);
        await signIn(tab, 'frank', { app: 'Photo Gallery' });
        await see(tab, 'Allow Photo Gallery?');
        await press(tab, 'Deny');
        await see(tab, 'Access was not granted: access_denied');
      });
      await step(tab, 'a wrong password is named as such', async () => {
        await go(tab, `${issuer()}/login`);
        await signIn(tab, 'alice', { password: 'not the password' });
        await see(tab, 'Incorrect username or password.');
        await shot(tab, 'login-error');
      });
      await step(tab, 'repeated failures lock the account', async () => {
        for (let attempt = 1; attempt <= 3; attempt += 1) {
          await go(tab, `${issuer()}/login`);
          await signIn(tab, 'carol', { password: `wrong ${attempt}` });
          await see(tab, 'Incorrect username or password.');
        }
        await go(tab, `${issuer()}/login`);
        await signIn(tab, 'carol');
        await see(tab, 'Too many attempts');
        await see(tab, 'Sign-in is paused after repeated failures');
        await shot(tab, 'locked');
      });
      await step(tab, 'an unknown application gets a page, not a redirect', async () => {
        await go(tab, `${issuer()}/authorize?client_id=unknown&response_type=code`);
        await see(tab, 'This request cannot be processed');
        await shot(tab, 'error');
      });
    });

    scenario('devices: sign out one device, then everywhere', async (tab) => {
      await step(tab, 'signed in to the SPA', async () => {
        await go(tab, spa.origin);
        await see(tab, 'Not signed in');
        await press(tab, 'Sign in');
        await signIn(tab, 'dave', { app: 'Photo app' });
        await allow(tab, 'Photo app');
        await see(tab, 'Signed in as Dave Bowman');
      });
      await step(tab, 'and to the web client', async () => {
        await webSignIn(tab, 'dave');
      });
      await step(tab, 'the account page', async () => {
        await go(tab, `${issuer()}/account`);
        await see(tab, 'You are signed in as dave');
        await shot(tab, 'account');
      });
      await step(tab, 'the devices page lists both applications', async () => {
        await tab.locator('a[href="/account/devices"]').click();
        await see(tab, 'Your devices');
        await see(tab, 'Photo Gallery');
        await see(tab, 'Photo app');
        await shot(tab, 'devices');
      });
      await step(tab, 'sign out the web client', async () => {
        const items = await tab.$$('ul.devices li');
        let target;
        for (const item of items) {
          if ((await item.evaluate((li) => li.innerText)).includes('Photo Gallery')) target = item;
        }
        assert.ok(target, 'Photo Gallery is listed');
        await (await target.$('button')).click();
        await see(tab, 'Your devices');
        await tab.waitForFunction(() => !document.body.innerText.includes('Photo Gallery'));
        await see(tab, 'Photo app');
      });
      await step(tab, 'the web client can no longer refresh', async () => {
        await go(tab, `${web.origin}/refresh`);
        await see(tab, 'Refresh failed: invalid_grant');
      });
      await step(tab, 'the SPA still renews', async () => {
        await go(tab, spa.origin);
        await see(tab, 'Signed in as Dave Bowman');
        await press(tab, 'Renew');
        await see(tab, 'Renewed: a new access token');
      });
      await step(tab, 'sign out everywhere', async () => {
        await go(tab, `${issuer()}/account/devices`);
        await see(tab, 'Photo app');
        await press(tab, 'Sign out everywhere');
        await see(tab, 'Username');
        await arrivedAt(tab, `${issuer()}/login`);
      });
      await step(tab, "the SPA's refresh token fails", async () => {
        await go(tab, spa.origin);
        await press(tab, 'Renew');
        await see(tab, 'Renewal failed: invalid_grant');
      });
    });

    scenario('RP-initiated logout: with an id_token_hint, and confirmed without one', async (tab) => {
      await step(tab, 'signed in to the web client', async () => {
        await webSignIn(tab, 'erin');
      });
      await step(tab, 'with a hint: back at the client at once', async () => {
        await go(tab, `${web.origin}/logout`);
        await see(tab, 'Signed out of Photo Gallery (state bye)');
        await go(tab, `${issuer()}/account`);
        await see(tab, 'Username');
      });
      await step(tab, 'signed in again', async () => {
        await webSignIn(tab, 'erin');
      });
      await step(tab, 'without a hint: the person confirms', async () => {
        await go(tab, `${web.origin}/logout?hint=no`);
        await see(tab, 'Sign out?');
        await see(tab, 'Photo Gallery asks to end your sign-in');
        await shot(tab, 'logout-confirm');
        await press(tab, 'Sign out');
        await see(tab, 'Signed out of Photo Gallery (state bye)');
        await go(tab, `${issuer()}/account`);
        await see(tab, 'Username');
      });
      await step(tab, 'the signed-out page', async () => {
        await go(tab, `${issuer()}/logout`);
        await see(tab, 'You are signed out');
        await shot(tab, 'logged-out');
      });
    });

    scenario("an attacker's pages cannot submit our forms", async (tab) => {
      await step(tab, 'the person is signed in', async () => {
        await go(tab, `${issuer()}/login`);
        await signIn(tab, 'alice');
        await see(tab, 'You are signed in as alice');
      });
      const sites = [
        ['same-site (another port of this host)', attacker.origin],
        ['cross-site', attacker.origin.replace('127.0.0.1', 'localhost')],
      ];
      for (const [site, origin] of sites) {
        for (const form of ['login', 'consent', 'logout']) {
          for (const referrer of ['strict-origin-when-cross-origin', 'no-referrer']) {
            await step(tab, `${site} ${form} with ${referrer}`, async () => {
              await go(tab, `${origin}/attack/${form}?referrer=${referrer}`);
              await see(tab, 'This form cannot be accepted');
              if (form === 'login') await shot(tab, 'refused');
              await go(tab, `${issuer()}/account`);
              await see(tab, 'You are signed in as alice');
            });
          }
        }
      }
    });
  });
}
