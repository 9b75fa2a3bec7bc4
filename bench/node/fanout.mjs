// The benchmark client: the same code drives Easel and peer.mjs, so their numbers compare.
//
//   node fanout.mjs --target easel|peer --url http://127.0.0.1:PORT --tabs 10 --messages 200
//                   [--pid <server pid>] [--idle 1000] [--users 1] [--url2 http://127.0.0.1:PORT2]
//
// Fan-out: `tabs` sockets of one user; socket 0 sends `messages` messages one after another;
// a sample is the time from ws.send until the matching message_added has reached EVERY socket.
// Cross-instance (easel, --url2): even tabs connect to --url (side A, tab 0 sends), odd tabs to
// --url2 (side B, reached over Redis pub/sub); a_* and b_* time each side on its own.
// Idle (with --idle and --pid): the server's VmRSS growth per extra open, welcomed socket.
// Prints one JSON line on stdout; any error goes to stderr and exits 1.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { arg, signup } from './easel.mjs';

const TIMEOUT_MS = 10_000; // the longest wait for any one frame
const BATCH = 100; // sockets opened concurrently in the idle phase

const target = arg('target');
const url = (arg('url') ?? '').replace(/\/+$/, '');
const url2 = arg('url2')?.replace(/\/+$/, '');
const tabs = Number(arg('tabs', 10));
const messages = Number(arg('messages', 200));
const pid = arg('pid');
const idle = Number(arg('idle', 0));
const users = Number(arg('users', 1));

const die = (message) => {
  console.error(`fanout: ${message}`);
  process.exit(1);
};
if (!['easel', 'peer'].includes(target)) die('--target must be easel or peer');
if (!/^https?:\/\//.test(url)) die('--url must be like http://127.0.0.1:PORT');
if (url2 !== undefined && !/^https?:\/\//.test(url2)) die('--url2 must be like http://127.0.0.1:PORT');
if (url2 !== undefined && target !== 'easel') die('--url2 is for --target easel only');
if (url2 !== undefined && !(tabs >= 2)) die('--url2 needs --tabs 2 or more (one tab per side at least)');
for (const [k, v] of Object.entries({ tabs, messages, users })) if (!(Number.isInteger(v) && v > 0)) die(`--${k} must be a positive integer`);
if (!(Number.isInteger(idle) && idle >= 0)) die('--idle must be a non-negative integer');
if (idle > 0 && !pid) console.error('fanout: --idle needs --pid; skipping the idle phase');

const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6); // unique per run
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const all = []; // every socket opened, closed at the end
let closing = false;
let lastError = null; // the last {"type":"error"} frame, to explain a timeout

const rssKib = () => {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) die(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
};

const parse = (data) => {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
};

/** Resolves with the first frame on `ws` that `pred` accepts; rejects after TIMEOUT_MS. */
const waitFor = (ws, pred, what) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', on);
      reject(new Error(`timeout waiting for ${what}${lastError ? ` (last error frame: ${JSON.stringify(lastError)})` : ''}`));
    }, TIMEOUT_MS);
    const on = (data) => {
      const m = parse(data);
      if (m && pred(m)) {
        clearTimeout(timer);
        ws.off('message', on);
        resolve(m);
      }
    };
    ws.on('message', on);
  });

/** A user to open sockets as: Easel needs an account, the peer just a name. */
const makeUser = async (name) => (target === 'easel' ? { name, cookie: await signup(url, name, TIMEOUT_MS) } : { name });

/** Which instance tab `i` talks to: with --url2, odd tabs are side B. */
const side = (i) => (url2 !== undefined && i % 2 === 1 ? 'b' : 'a');

/** Opens one socket as `user` (to `origin`) and resolves once its welcome frame has arrived. */
function connect(user, origin = url) {
  const base = origin.replace(/^http/, 'ws');
  const ws =
    target === 'easel'
      ? new WebSocket(`${base}/ws`, { headers: { Cookie: user.cookie, Origin: origin } })
      : new WebSocket(`${base}/ws?user=${encodeURIComponent(user.name)}`);
  all.push(ws);
  ws.on('message', (data) => {
    if (data.length < 200 && String(data).startsWith('{"type":"error"')) lastError = parse(data);
  });
  let failure = null;
  ws.on('error', (e) => (failure = e)); // 'close' follows and reports it
  ws.on('close', (code, reason) => {
    if (!closing) die(`a socket of ${user.name} closed: ${failure ? failure.message : `code ${code} ${reason}`}`);
  });
  return waitFor(ws, (m) => m.type === 'welcome', 'welcome').then(() => ws);
}

const percentile = (sorted, p) => sorted[Math.round((sorted.length - 1) * p)];

async function fanout() {
  const user = await makeUser(target === 'easel' ? `b${run}f` : 'fanout');
  const sockets = [];
  for (let i = 0; i < tabs; i += BATCH) {
    const n = Math.min(BATCH, tabs - i);
    sockets.push(...(await Promise.all(Array.from({ length: n }, (_, k) => connect(user, side(i + k) === 'b' ? url2 : url)))));
  }
  const sideSize = { a: 0, b: 0 };
  sockets.forEach((_, i) => sideSize[side(i)]++);

  const create = `t-${run}`;
  const created = waitFor(sockets[0], (m) => m.type === 'thread_created' && m.client_id === create, 'thread_created');
  sockets[0].send(JSON.stringify({ type: 'create_thread', client_id: create, title: 'bench' }));
  const threadId = (await created).thread.id;

  // One message in flight at a time: `pending` is the message every socket is waiting for.
  let pending = null;
  sockets.forEach((ws, i) =>
    ws.on('message', (data) => {
      const p = pending;
      if (!p) return;
      const m = parse(data);
      if (m?.type !== 'message_added' || m.message?.client_id !== p.id || p.seen[i]) return;
      p.seen[i] = true;
      const s = side(i);
      if (++p.sideCount[s] === sideSize[s]) p.sideEnd[s] = process.hrtime.bigint();
      if (++p.count === tabs) p.done(process.hrtime.bigint());
    }),
  );

  const samples = [];
  const sideSamples = { a: [], b: [] };
  const loopStart = process.hrtime.bigint();
  for (let n = 0; n < messages; n++) {
    const id = `m-${run}-${n}`;
    let timer;
    const arrived = new Promise((resolve, reject) => {
      pending = { id, seen: new Array(tabs).fill(false), count: 0, sideCount: { a: 0, b: 0 }, sideEnd: {}, done: resolve };
      timer = setTimeout(
        () => reject(new Error(`timeout: message ${n} reached ${pending.count}/${tabs} sockets${lastError ? ` (last error frame: ${JSON.stringify(lastError)})` : ''}`)),
        TIMEOUT_MS,
      );
    });
    const start = process.hrtime.bigint();
    sockets[0].send(JSON.stringify({ type: 'send', thread_id: threadId, client_id: id, text: `message ${n}` }));
    const end = await arrived;
    clearTimeout(timer);
    samples.push(Number(end - start) / 1e6);
    for (const s of ['a', 'b']) if (sideSize[s] > 0) sideSamples[s].push(Number(pending.sideEnd[s] - start) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - loopStart) / 1e9;
  pending = null;

  samples.sort((a, b) => a - b);
  const ms = (x) => Math.round(x * 1000) / 1000;
  const result = {
    target,
    client: 'node',
    tabs,
    messages,
    p50_ms: ms(percentile(samples, 0.5)),
    p99_ms: ms(percentile(samples, 0.99)),
    max_ms: ms(samples[samples.length - 1]),
    deliveries_per_s: Math.round((tabs * messages) / seconds),
  };
  if (url2 !== undefined) {
    result.instances = 2;
    for (const s of ['a', 'b']) {
      const sorted = sideSamples[s].sort((x, y) => x - y);
      result[`${s}_tabs`] = sideSize[s];
      result[`${s}_p50_ms`] = ms(percentile(sorted, 0.5));
      result[`${s}_p99_ms`] = ms(percentile(sorted, 0.99));
    }
  }
  return result;
}

async function idleSockets() {
  // Accounts are made before the first reading, so only the sockets are measured.
  const people = [];
  for (let u = 0; u < users; u += BATCH) {
    const n = Math.min(BATCH, users - u);
    people.push(...(await Promise.all(Array.from({ length: n }, (_, k) => makeUser(target === 'easel' ? `b${run}u${u + k}` : `u${u + k}`)))));
  }
  await sleep(500);
  const before = rssKib();
  for (let i = 0; i < idle; i += BATCH) {
    const n = Math.min(BATCH, idle - i);
    await Promise.all(Array.from({ length: n }, (_, k) => connect(people[(i + k) % users])));
  }
  await sleep(1000);
  const after = rssKib();
  return {
    idle_sockets: idle,
    rss_before_kib: before,
    rss_after_kib: after,
    per_socket_kib: Math.round(((after - before) / idle) * 100) / 100,
  };
}

async function closeAll() {
  closing = true;
  const closed = all.map((ws) => (ws.readyState === WebSocket.CLOSED ? null : new Promise((r) => ws.once('close', r))));
  for (const ws of all) ws.close();
  await Promise.race([Promise.all(closed), sleep(TIMEOUT_MS)]);
  for (const ws of all) ws.terminate(); // a no-op on sockets already closed
}

try {
  const result = await fanout();
  if (idle > 0 && pid) Object.assign(result, await idleSockets());
  await closeAll();
  console.log(JSON.stringify(result));
  process.exit(0);
} catch (e) {
  die(e.message);
}
