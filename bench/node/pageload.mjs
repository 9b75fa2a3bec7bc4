// Page load to interactive, in a real browser: what a signed-in user waits for and downloads
// before the chat is usable (HTML, the WASM, its JS glue, the stylesheet, then the socket).
//
//   node pageload.mjs --url http://127.0.0.1:PORT [--runs 3]
//
// Each run opens `/` in a FRESH browser context (empty cache) as a throw-away user and times
// navigation start -> <body data-live="online"> (hydrated and the WebSocket welcomed), counting
// requests and bytes over the wire (CDP Network.loadingFinished encodedDataLength). A reload
// in the same context then shows what caching saves. Headless Debian Chromium via Playwright
// from end2end/. Prints one JSON line (medians over runs); errors go to stderr and exit 1.
import { chromium } from '../../end2end/node_modules/playwright/index.mjs';
import { arg, signup } from './easel.mjs';

const TIMEOUT_MS = 30_000; // the longest wait for any one step (WASM compiles slowly on a busy machine)
const SETTLE_MS = 300; // quiet network time that ends a load's accounting

const url = (arg('url') ?? '').replace(/\/+$/, '');
const runs = Number(arg('runs', 3));

const die = (message) => {
  console.error(`pageload: ${message}`);
  process.exit(1);
};
if (!/^https?:\/\//.test(url)) die('--url must be like http://127.0.0.1:PORT');
if (!(Number.isInteger(runs) && runs > 0)) die('--runs must be a positive integer');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const header = (headers, name) => Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1] ?? null;

/** Creates an account and returns its session cookie as { name, value }. */
async function account() {
  const cookie = await signup(url, `p${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, TIMEOUT_MS);
  const eq = cookie.indexOf('=');
  return { name: cookie.slice(0, eq), value: cookie.slice(eq + 1) };
}

/** Records every request of one page load over CDP: count, bytes, and the front end's files. */
function recorder(cdp) {
  let load = null;
  const reset = () => (load = { requests: 0, bytes: 0, inFlight: new Set(), responses: new Map(), assets: [], lastEvent: Date.now() });
  reset();
  const touch = () => (load.lastEvent = Date.now());
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url.startsWith('data:')) return;
    load.requests++;
    load.inFlight.add(e.requestId);
    touch();
  });
  cdp.on('Network.responseReceived', (e) => load.responses.set(e.requestId, e.response));
  cdp.on('Network.loadingFinished', (e) => {
    load.bytes += e.encodedDataLength;
    load.inFlight.delete(e.requestId);
    touch();
    const response = load.responses.get(e.requestId);
    const path = response ? new URL(response.url).pathname : '';
    if (/\.(wasm|js|css)$/.test(path)) {
      load.assets.push({
        name: path.split('/').pop(),
        bytes: e.encodedDataLength,
        encoding: header(response.headers, 'content-encoding'),
        cache_control: header(response.headers, 'cache-control'),
      });
    }
  });
  cdp.on('Network.loadingFailed', (e) => {
    load.inFlight.delete(e.requestId);
    touch();
  });
  return {
    reset,
    /** Waits until no request is in flight and none started for SETTLE_MS; returns the load. */
    async settled() {
      const deadline = Date.now() + TIMEOUT_MS;
      while (load.inFlight.size > 0 || Date.now() - load.lastEvent < SETTLE_MS) {
        if (Date.now() > deadline) throw new Error(`${load.inFlight.size} requests still in flight after ${TIMEOUT_MS} ms`);
        await sleep(50);
      }
      return load;
    },
  };
}

/** In the page, before any of its scripts: notes performance.now() when body turns online. */
const markOnline = () => {
  const check = () => {
    if (window.__onlineAt === undefined && document.body?.dataset.live === 'online') window.__onlineAt = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-live'] });
};

/** Waits for the live page and returns ms from navigation start until it went online. */
async function online(page) {
  await page.waitForSelector("body[data-live='online']", { state: 'attached', timeout: TIMEOUT_MS });
  const at = await page.evaluate(() => window.__onlineAt);
  if (typeof at !== 'number') throw new Error('the page went online before the observer saw it');
  return at;
}

async function oneRun(browser, cookie) {
  const context = await browser.newContext(); // its own, empty cache
  try {
    await context.addCookies([{ ...cookie, url }]);
    await context.addInitScript(markOnline);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    const cdp = await context.newCDPSession(page);
    const rec = recorder(cdp);
    await cdp.send('Network.enable');

    await page.goto(`${url}/`, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    const ms = await online(page);
    const cold = await rec.settled();

    rec.reset();
    await page.reload({ waitUntil: 'commit', timeout: TIMEOUT_MS });
    await online(page);
    const warm = await rec.settled();
    return { ms, cold, warm };
  } finally {
    await context.close();
  }
}

let browser;
// A last guard: whatever hangs, the process ends.
setTimeout(() => die(`no result after ${(TIMEOUT_MS * (2 + 3 * runs)) / 1000} s`), TIMEOUT_MS * (2 + 3 * runs)).unref();
try {
  const cookie = await account();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: TIMEOUT_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await oneRun(browser, cookie));
  const order = (a, b) => a.name.localeCompare(b.name);
  console.log(
    JSON.stringify({
      target: 'easel',
      runs,
      cold_ms_median: Math.round(median(results.map((r) => r.ms)) * 100) / 100,
      cold_ms: results.map((r) => Math.round(r.ms * 100) / 100),
      cold_bytes: median(results.map((r) => r.cold.bytes)),
      cold_requests: median(results.map((r) => r.cold.requests)),
      warm_bytes: median(results.map((r) => r.warm.bytes)),
      warm_requests: median(results.map((r) => r.warm.requests)),
      assets: results[0].cold.assets.sort(order),
      warm_assets: results[0].warm.assets.sort(order),
    }),
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`pageload: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
