// The load test of the issue: "5,000 sockets over 500 users, 200 generations running at once
// against the provider fake with a 2 s answer, two instances over PostgreSQL and Redis; report
// p99 event latency, server CPU-seconds per 1,000 generations, memory, and errors (zero)".
// scripts/load starts that set-up and runs this client against it.
//
//   node load.mjs --a http://127.0.0.1:PA --b http://127.0.0.1:PB [--pids PIDA,PIDB]
//                 [--users 500] [--tabs 10] [--concurrent 200] [--rounds 5] [--timeout 120]
//                 [--accounts FILE [--signup-only]]
//
// Set-up (not measured): `users` accounts (signed up on A and B in turn; with --accounts,
// read from FILE if it exists, else written to it, and --signup-only stops there), `tabs`
// sockets each, even tabs on A and odd tabs on B; tab 0 creates the user's thread and every
// tab opens it. Then `rounds` rounds: `concurrent` distinct users at once each send
// `/imagine …` from tab 0 (A) or tab 1 (B) in turn; a round ends when every job's end has
// reached all the user's tabs (or --timeout seconds). Measured over the rounds:
// - message latency: ws.send until the user's own message_added has reached every tab, and
//   every tab but the sender's (a socket answers its frames in order, so the sender's echo
//   waits until the image job has started);
// - event spread: for each event the server sends a user (job progress, previews, the end,
//   quota), first tab to last tab; a frame is matched by its text, the same on every tab;
// - generation time: send until the sender's tab sees the job end (the fake takes 2 s), and
//   when each stage reached that tab (p50);
// - both servers' CPU-seconds (/proc utime+stime) per 1,000 generations and VmRSS (at the
//   start, with the sockets open, at the end, the peak sampled every 500 ms); this client's
//   CPU and event-loop delay (it shares the cores; its lateness is in every latency above);
// - errors by kind (target: none): refusals, failed or unfinished jobs, error frames,
//   sockets closed, re-syncs, events that never reached every tab.
// Prints a summary on stderr and one JSON line {"bench":"load",…} on stdout; exits 1 on errors.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { arg, rssKib, signup } from './easel.mjs';

const SETUP_TIMEOUT_MS = 30_000; // the longest wait for one set-up frame (welcome, history)
const SIGNUPS_AT_ONCE = 4; // password hashing (Argon2) is the slow part of a sign-up
const USERS_AT_ONCE = 20; // users whose sockets are being opened at once
const QUIET_MS = 300; // a round's trailing events (the quota after a job's end) get this long
const LOOP_RESOLUTION_MS = 10; // the client's event-loop delay is sampled this often

const urls = [arg('a'), arg('b')].map((u) => (u ?? '').replace(/\/+$/, ''));
const users = Number(arg('users', 500));
const tabs = Number(arg('tabs', 10));
const concurrent = Number(arg('concurrent', 200));
const rounds = Number(arg('rounds', 5));
const timeoutMs = Number(arg('timeout', 120)) * 1000;
const pids = (arg('pids') ?? '').split(',').filter(Boolean);
const accounts = arg('accounts');
const signupOnly = process.argv.includes('--signup-only');

const die = (message) => {
  console.error(`load: ${message}`);
  process.exit(1);
};
if (!urls.every((u) => /^https?:\/\//.test(u))) die('--a and --b must be like http://127.0.0.1:PORT');
for (const [k, v] of Object.entries({ users, tabs, concurrent, rounds })) if (!(Number.isInteger(v) && v > 0)) die(`--${k} must be a positive integer`);
if (concurrent > users) die('--concurrent may not exceed --users (one job per user at a time)');
if (!(timeoutMs > 0)) die('--timeout must be a number of seconds');
if (pids.length !== 0 && pids.length !== 2) die('--pids takes the two servers\' pids, PIDA,PIDB');
if (signupOnly && !accounts) die('--signup-only needs --accounts FILE');

const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6); // unique per run
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const parse = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};
const percentile = (sorted, p) => sorted[Math.round((sorted.length - 1) * p)];
const ms = (x) => (x === undefined ? null : Math.round(x * 10) / 10);
const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50_ms: ms(percentile(s, 0.5)), p99_ms: ms(percentile(s, 0.99)), max_ms: ms(s[s.length - 1]) };
};

/** Runs `work` on every item, at most `width` at a time. */
async function bounded(items, width, work) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

// Errors by kind, with the first example of each.
const errors = {};
const examples = {};
const errorCount = () => Object.values(errors).reduce((a, b) => a + b, 0);
const fail = (kind, detail) => {
  errors[kind] = (errors[kind] ?? 0) + 1;
  examples[kind] ??= detail;
};

// Server readings: CPU ticks (100 per second) and VmRSS in KiB.
const cpuTicks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields 3… of proc(5)
  return Number(fields[11]) + Number(fields[12]); // utime + stime
};
const rssAll = () => pids.map(rssKib);
const peakRss = pids.map(() => 0);
const sampleRss = () => pids.forEach((pid, i) => (peakRss[i] = Math.max(peakRss[i], rssKib(pid))));

// Prometheus series read from both instances before and after the rounds, as a cross-check.
const SERIES = {
  jobs_complete: ['easel_jobs_total', 'outcome="complete"'], jobs: ['easel_jobs_total', ''],
  gate_refusals: ['easel_gate_refusals_total', ''], relay_events: ['easel_relay_events_total', ''],
  hub_undelivered: ['easel_hub_undelivered', ''], relay_lag_s: ['easel_relay_lag_seconds_sum', ''],
  provider_s: ['easel_provider_seconds_sum', ''], provider_calls: ['easel_provider_seconds_count', ''],
};
/** Each series of SERIES summed over the label sets that contain its labels, both instances. */
async function readMetrics() {
  const sums = Object.fromEntries(Object.keys(SERIES).map((k) => [k, 0]));
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    for (const [, name, labels = '', value] of text.matchAll(/^([a-z_]+)(\{[^}]*\})? (\S+)$/gm)) {
      for (const [k, [series, want]] of Object.entries(SERIES)) if (name === series && labels.includes(want)) sums[k] += Number(value);
    }
  }
  return sums;
}

// Measurements over the rounds.
const messageMs = []; // send → own message on every tab
const othersMs = []; // send → own message on every tab but the sender's
const spreadMs = []; // first tab → last tab, per server event
const generationMs = []; // send → job end on the sender's tab, per job completed
const stageMs = {}; // stage → [send → its first progress frame on the sender's tab]
const spreadKinds = {};
let measuring = false;
let lastFrameAt = 0;

/** Every frame of every tab. Set-up waits are `tab.waiters`; the rounds' events are matched here. */
function onFrame(tab, data) {
  const at = now();
  lastFrameAt = at;
  const text = String(data);
  const m = parse(text);
  if (!m) return fail('unreadable_frame', text.slice(0, 200));
  for (const w of [...tab.waiters]) if (w.pred(m)) w.resolve(m);
  const u = tab.user;
  const req = u.req;
  if (m.type === 'welcome') {
    if (tab.welcomed) fail('resync', `${u.name} tab ${tab.index} got a second welcome (lagged behind the hub?)`);
    tab.welcomed = true;
    return;
  }
  if (m.type === 'error') {
    if (req && m.client_id === req.clientId) req.finish(`refused_${m.code}`, m.message);
    else fail(`error_frame_${m.code}`, m.message);
    return;
  }
  if (!measuring || m.type === 'thread_history') return; // one socket's answer
  // A hub event: the same text reaches every tab of the user, identical ones counted apart.
  const digest = createHash('sha1').update(text).digest('base64');
  const n = (tab.seen.get(digest) ?? 0) + 1;
  tab.seen.set(digest, n);
  const key = `${n}:${digest}`;
  let ev = u.events.get(key);
  if (!ev) {
    const own = req && m.type === 'message_added' && m.message.client_id === req.clientId;
    ev = { first: at, count: 0, others: 0, kind: own ? 'own' : m.type, sent: own ? req.sent : null };
    u.events.set(key, ev);
  }
  if (ev.kind === 'own' && tab !== req.tab && ++ev.others === tabs - 1) othersMs.push(at - ev.sent);
  if (++ev.count === tabs) {
    if (ev.kind === 'own') messageMs.push(at - ev.sent);
    else if (tabs > 1) {
      spreadMs.push(at - ev.first);
      spreadKinds[ev.kind] = (spreadKinds[ev.kind] ?? 0) + 1;
    }
    u.events.delete(key);
  }
  if (!req) return;
  if (m.type === 'message_added' && m.message.role === 'assistant' && m.message.thread_id === u.threadId && tab === req.tab) {
    if (!m.message.job) req.finish('refused', m.message.text); // a refusal is the assistant's words, not a job
    else req.jobId = m.message.job.id;
  }
  if (m.type === 'job_progress' && m.job_id === req.jobId && tab === req.tab) req.stages[m.stage] ??= at - req.sent;
  if (m.type === 'job_updated' && m.job.id === req.jobId && m.job.status !== 'running') {
    if (tab === req.tab) req.generation = at - req.sent;
    if (++req.ended === tabs) req.finish(m.job.status === 'complete' ? null : `job_${m.job.status}`, m.job.error?.message ?? m.job.status);
  }
}

/** Opens tab `index` of `user` (even tabs on A, odd on B); resolves once welcomed. */
function connect(user, index) {
  const origin = urls[index % 2];
  const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/ws`, { headers: { Cookie: user.cookie, Origin: origin } });
  const tab = { user, index, ws, waiters: [], seen: new Map(), welcomed: false };
  ws.on('message', (data) => onFrame(tab, data));
  let failure = null;
  ws.on('error', (e) => (failure = e)); // 'close' follows and reports it
  ws.on('close', (code, reason) => {
    if (!closing) fail('socket_closed', `${user.name} tab ${index}: ${failure ? failure.message : `code ${code} ${reason}`}`);
  });
  return waitFor(tab, (m) => m.type === 'welcome', 'welcome').then(() => tab);
}

/** Resolves with the first frame on `tab` that `pred` accepts; rejects after SETUP_TIMEOUT_MS. */
function waitFor(tab, pred, what) {
  return new Promise((resolve, reject) => {
    const end = (settle, value) => {
      clearTimeout(timer);
      tab.waiters.splice(tab.waiters.indexOf(w), 1);
      settle(value);
    };
    const w = { pred, resolve: (m) => end(resolve, m) };
    const timer = setTimeout(() => end(reject, new Error(`timeout waiting for ${what} on ${tab.user.name} tab ${tab.index}`)), SETUP_TIMEOUT_MS);
    tab.waiters.push(w);
  });
}

/** A user's sockets, thread, and every tab showing that thread. */
async function prepare(user) {
  user.tabs = await Promise.all(Array.from({ length: tabs }, (_, i) => connect(user, i)));
  const id = `t-${run}-${user.index}`;
  const created = Promise.all(user.tabs.map((t) => waitFor(t, (m) => m.type === 'thread_created' && m.client_id === id, 'thread_created')));
  user.tabs[0].ws.send(JSON.stringify({ type: 'create_thread', client_id: id, title: 'load' }));
  user.threadId = (await created)[0].thread.id;
  await Promise.all(
    user.tabs.map((t) => {
      const history = waitFor(t, (m) => m.type === 'thread_history' && m.thread.id === user.threadId, 'thread_history');
      t.ws.send(JSON.stringify({ type: 'open_thread', thread_id: user.threadId, after_seq: null }));
      return history;
    }),
  );
}

/** One round: `concurrent` users ask for an image at once; resolves when all have ended. */
async function round(r) {
  const chosen = Array.from({ length: concurrent }, (_, k) => people[(r * concurrent + k) % users]);
  // The sender is tab 0 (on A) or tab 1 (on B), in turn.
  const ends = chosen.map((u, k) => new Promise((resolve) => {
    const req = (u.req = { clientId: `m-${run}-${r}-${u.index}`, tab: u.tabs[tabs > 1 ? (k + r) % 2 : 0], jobId: null, ended: 0, stages: {} });
    const timer = setTimeout(() => req.finish('timeout', `job ${req.jobId ?? '(not started)'} ended on ${req.ended}/${tabs} tabs`), timeoutMs);
    req.finish = (kind, detail) => {
      if (req.done) return;
      req.done = true;
      clearTimeout(timer);
      if (kind) fail(kind, `${u.name}: ${detail}`);
      else {
        generationMs.push(req.generation);
        for (const [stage, t] of Object.entries(req.stages)) (stageMs[stage] ??= []).push(t);
      }
      resolve();
    };
  }));
  for (const u of chosen) {
    const req = u.req;
    req.sent = now();
    const text = `/imagine a lighthouse at dusk, round ${r + 1}, user ${u.index}`;
    req.tab.ws.send(JSON.stringify({ type: 'send', thread_id: u.threadId, client_id: req.clientId, text }));
  }
  await Promise.all(ends);
  // Trailing events (the quota after a job's end) may still be on their way to some tabs.
  const settleBy = now() + 10_000;
  while (now() < settleBy && (now() - lastFrameAt < QUIET_MS || chosen.some((u) => u.events.size > 0))) await sleep(50);
  for (const u of chosen) {
    for (const ev of u.events.values()) fail('missing_event', `${u.name}: a ${ev.kind} reached ${ev.count}/${tabs} tabs`);
    u.events.clear();
    for (const t of u.tabs) t.seen.clear();
    u.req = null;
  }
}

let closing = false;
const people = Array.from({ length: users }, (_, index) => ({ index, name: `l${run}u${index}`, events: new Map(), req: null }));
const seconds = (from, to = now()) => Math.round((to - from) / 100) / 10;
try {
  const rssStart = rssAll();
  const t0 = now();
  if (accounts && existsSync(accounts)) {
    const saved = JSON.parse(readFileSync(accounts, 'utf8'));
    if (saved.length < users) die(`${accounts} holds ${saved.length} accounts, fewer than --users ${users}`);
    people.forEach((u, i) => Object.assign(u, saved[i]));
  } else {
    await bounded(people, SIGNUPS_AT_ONCE, async (u) => (u.cookie = await signup(urls[u.index % 2], u.name, SETUP_TIMEOUT_MS)));
    if (accounts) writeFileSync(accounts, JSON.stringify(people.map(({ name, cookie }) => ({ name, cookie }))));
  }
  const t1 = now();
  console.error(`load: ${users} users ready in ${seconds(t0, t1)} s${signupOnly ? '' : `; opening ${users * tabs} sockets`}`);
  if (signupOnly) process.exit(0);
  await bounded(people, USERS_AT_ONCE, prepare);
  const t2 = now();
  console.error(`load: ${users * tabs} sockets open in ${seconds(t1, t2)} s; ${rounds} rounds of ${concurrent} generations`);

  await sleep(1000);
  const rssOpen = rssAll();
  sampleRss();
  const sampler = setInterval(sampleRss, 500);
  const before = await readMetrics();
  const cpuBefore = pids.map(cpuTicks);
  const clientBefore = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  measuring = true;
  const t3 = now();
  for (let r = 0; r < rounds; r++) {
    const start = now();
    await round(r);
    console.error(`load: round ${r + 1}/${rounds} in ${seconds(start)} s (${generationMs.length} generations so far, ${errorCount()} errors)`);
  }
  const wall = (now() - t3) / 1000;
  measuring = false;
  const cpu = pids.map((pid, i) => (cpuTicks(pid) - cpuBefore[i]) / 100);
  const client = process.cpuUsage(clientBefore);
  loopDelay.disable();
  const after = await readMetrics();
  clearInterval(sampler);
  sampleRss();

  const metrics = Object.fromEntries(Object.keys(SERIES).map((k) => [k, after[k] - before[k]]));
  metrics.hub_undelivered = after.hub_undelivered; // a gauge: what is left
  metrics.provider_s_mean = Math.round((metrics.provider_s / metrics.provider_calls) * 1000) / 1000;
  metrics.relay_lag_ms_mean = Math.round((metrics.relay_lag_s / metrics.relay_events) * 1e4) / 10;
  const cpuTotal = cpu.reduce((a, b) => a + b, 0);
  const completed = generationMs.length;
  const loop = (x) => ms(Math.max(0, x / 1e6 - LOOP_RESOLUTION_MS)); // the histogram counts the timer's own period
  const result = {
    bench: 'load', instances: 2, users, tabs, sockets: users * tabs, concurrent, rounds, generations: rounds * concurrent, completed,
    seconds: Math.round(wall * 10) / 10,
    setup_s: { accounts: seconds(t0, t1), sockets: seconds(t1, t2) },
    message: stats(messageMs),
    message_other_tabs: stats(othersMs),
    event_spread: { ...stats(spreadMs), kinds: spreadKinds },
    generation: stats(generationMs),
    stage_p50_ms: Object.fromEntries(Object.entries(stageMs).map(([stage, t]) => [stage, stats(t).p50_ms])),
    cpu_s: { a: cpu[0], b: cpu[1] },
    cpu_s_per_1000_generations: pids.length && completed ? Math.round((cpuTotal / completed) * 10_000) / 10 : null,
    client_cpu_s: Math.round((client.user + client.system) / 1e4) / 100,
    client_loop_delay_ms: { p50: loop(loopDelay.percentile(50)), p99: loop(loopDelay.percentile(99)), max: loop(loopDelay.max) },
    rss_kib: { start: rssStart, sockets_open: rssOpen, end: rssAll(), peak: peakRss },
    metrics,
    errors,
    error_total: errorCount(),
  };

  const line = (label, s) => `${label.padEnd(34)} p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  max ${s.max_ms} ms  (${s.n} samples)`;
  const mib = (kib) => kib.map((k) => `${Math.round(k / 1024)}`).join(' / ');
  const summary = [
    `Easel load: ${users} users × ${tabs} tabs = ${users * tabs} sockets on 2 instances; ${rounds} rounds × ${concurrent} generations at once`,
    `${result.completed}/${result.generations} generations complete in ${result.seconds} s (${(result.completed / wall).toFixed(1)}/s)`,
    line('own message on every tab', result.message),
    line('  on every tab but the sender\'s', result.message_other_tabs),
    line('server event, first → last tab', result.event_spread),
    line('generation (send → end, sender)', result.generation),
    `  stages reached, p50 ms after send: ${JSON.stringify(result.stage_p50_ms)}`,
    `  at the provider (server metric): ${metrics.provider_s_mean} s a job on average; relay to the other instance ${metrics.relay_lag_ms_mean} ms on average`,
    `client: ${result.client_cpu_s} CPU-s, event loop late p50 ${result.client_loop_delay_ms.p50} ms, p99 ${result.client_loop_delay_ms.p99} ms, max ${result.client_loop_delay_ms.max} ms`,
  ];
  if (pids.length) {
    const r = result.rss_kib;
    summary.push(
      `server CPU: A ${cpu[0].toFixed(2)} s, B ${cpu[1].toFixed(2)} s = ${result.cpu_s_per_1000_generations} CPU-s per 1,000 generations`,
      `server RSS MiB (A / B): start ${mib(r.start)}, sockets open ${mib(r.sockets_open)}, end ${mib(r.end)}, peak in rounds ${mib(r.peak)}`,
    );
  }
  summary.push(`metrics (both instances, over the rounds): ${JSON.stringify(metrics)}`, `errors: ${result.error_total ? JSON.stringify(errors) : 'none'}`);
  for (const [kind, detail] of Object.entries(examples)) summary.push(`  e.g. ${kind}: ${detail}`);
  console.error(summary.join('\n'));

  closing = true;
  for (const u of people) for (const t of u.tabs ?? []) t.ws.terminate();
  console.log(JSON.stringify(result));
  process.exit(result.error_total === 0 ? 0 : 1);
} catch (e) {
  die(e.message);
}
