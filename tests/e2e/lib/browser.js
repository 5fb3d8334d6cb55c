// Debian's Chromium and Firefox ESR through puppeteer-core (CDP for Chromium, WebDriver
// BiDi for Firefox): no browser is downloaded. Helpers that act and look as a person
// would — type, click, read the page's text — and that keep, for a failing step, a
// screenshot, the browser console and the network log.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

export const RESULTS = resolve(process.env.E2E_RESULTS || 'results');
/// Where the suite's screenshots of our pages go (`scripts/screenshots`: docs/screenshots).
export const SHOTS = resolve(process.env.E2E_SCREENSHOTS || join(RESULTS, 'screenshots'));

const LAUNCH = {
  chromium: {
    browser: 'chrome',
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Without the background-networking flags Chromium keeps calling out to a closed
    // network; --no-sandbox because CI runs as root.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-features=Translate,MediaRouter,OptimizationHints'],
  },
  firefox: {
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: {
      'network.captive-portal-service.enabled': false,
      'browser.safebrowsing.update.enabled': false,
      'app.update.enabled': false,
    },
  },
};

export async function launch(name) {
  return puppeteer.launch({ ...LAUNCH[name], headless: true, timeout: 60_000 });
}

/// A fresh browser profile (cookies, storage) with one tab whose console and network
/// are recorded.
export async function openTab(browser) {
  const context = await browser.createBrowserContext();
  const tab = await context.newPage();
  await tab.setViewport({ width: 900, height: 700 });
  tab.setDefaultTimeout(15_000);
  tab.setDefaultNavigationTimeout(15_000);
  const log = { console: [], network: [] };
  const at = () => new Date().toISOString().slice(11, 23);
  tab.on('console', (m) => log.console.push(`${at()} ${m.type()}: ${m.text()}`));
  tab.on('pageerror', (e) => log.console.push(`${at()} pageerror: ${e.message}`));
  tab.on('request', (r) => log.network.push(`${at()} → ${r.method()} ${r.url()}`));
  tab.on('response', (r) => log.network.push(`${at()} ← ${r.status()} ${r.url()}`));
  tab.on('requestfailed', (r) => log.network.push(`${at()} ✗ ${r.url()} ${r.failure()?.errorText || ''}`));
  tab.artifacts = log;
  tab.done = () => context.close();
  return tab;
}

/// One step of a scenario. When it fails, what the person saw is saved and its paths
/// printed: a screenshot, the console and the network log of the tab.
export async function step(tab, name, action) {
  try {
    return await action();
  } catch (error) {
    const dir = join(RESULTS, 'failures', tab.label);
    mkdirSync(dir, { recursive: true });
    const base = join(dir, name.replace(/[^\w-]+/g, '-'));
    const saved = [];
    try { await tab.screenshot({ path: `${base}.png` }); saved.push(`${base}.png`); } catch { /* tab gone */ }
    let url = '';
    try { url = tab.url(); } catch { /* tab gone */ }
    writeFileSync(`${base}.console.txt`, `${tab.artifacts.console.join('\n')}\n`);
    writeFileSync(`${base}.network.txt`, `${tab.artifacts.network.join('\n')}\n`);
    saved.push(`${base}.console.txt`, `${base}.network.txt`);
    error.message = `${tab.label}: step "${name}" failed at ${url}: ${error.message}\n  saved: ${saved.join('\n         ')}`;
    throw error;
  }
}

/// The text the person sees, once it contains `expected` (a string or a RegExp). Survives
/// navigations in flight: the page is read again until the deadline.
export async function see(tab, expected, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let text = '';
  for (;;) {
    try {
      text = await tab.evaluate(() => document.body ? document.body.innerText : '');
    } catch { text = ''; /* between two documents */ }
    const found = typeof expected === 'string' ? text.includes(expected) : expected.test(text);
    if (found) return text;
    if (Date.now() > deadline) {
      throw new Error(`expected to see ${expected}, the page says:\n${text.slice(0, 600)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// Waits until the tab's document is at `url` (an origin, or an origin and a path), as
/// the document itself says: the driver's idea of the URL can lag behind a redirect.
export async function arrivedAt(tab, url, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let now = '';
  for (;;) {
    try {
      now = await tab.evaluate(() => window.location.href);
    } catch { now = ''; /* between two documents */ }
    const { origin, pathname } = new URL(now || 'about:blank');
    if (url === origin || url === `${origin}${pathname}`) return;
    if (Date.now() > deadline) throw new Error(`expected to be at ${url}, the tab is at ${now}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// Types into a field as a person would (clearing what is there).
export async function fill(tab, selector, value) {
  await tab.locator(selector).fill(value);
}

/// Clicks the button whose visible text is `text` (optionally inside `within`).
export async function press(tab, text, within = 'body') {
  const buttons = await tab.$$(`${within} button`);
  for (const button of buttons) {
    if ((await button.evaluate((b) => b.textContent.trim())) === text) {
      await button.click();
      return;
    }
  }
  throw new Error(`no button "${text}" in ${within}`);
}

/// A screenshot of one of our pages, for docs/screenshots/<browser>/<name>.png.
export async function shot(tab, name) {
  const dir = join(SHOTS, tab.browserName);
  mkdirSync(dir, { recursive: true });
  await tab.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
