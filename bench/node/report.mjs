// Turns the benchmark scripts' JSON lines into one Markdown table, Easel beside its peer, so a
// run of the whole kit reads as one comparison.
//
//   node report.mjs results.jsonl [more.jsonl …]      (or pipe the lines in on stdin)
//
// Understands fanout.mjs lines (target easel/peer, client node/rust, cross-instance with
// --url2), pageload.mjs lines, and free-form rows from other scripts:
//   {"kind":"row","measure":"…","easel":1.2,"peer":3.4,"unit":"ms","peer_name":"…"}
// When several lines measure the same thing, the last one wins. Other lines are skipped with
// a note on stderr.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
const text = files.length > 0 ? files.map((f) => readFileSync(f, 'utf8')).join('\n') : readFileSync(0, 'utf8');

const fanout = new Map(); // "tabs|client" -> { easel, peer }, single-instance lines
const idle = new Map(); // "sockets|client" -> { easel, peer }
const cross = new Map(); // "tabs|client" -> the easel line with --url2
let pageload = null;
const rows = []; // { measure, easel, peer, unit, peer_name }

for (const [n, line] of text.split('\n').entries()) {
  if (!line.trim()) continue;
  let j;
  try {
    j = JSON.parse(line);
  } catch {
    console.error(`report: skipping line ${n + 1}: not JSON`);
    continue;
  }
  const client = j.client ?? 'node';
  if (j.kind === 'row' && typeof j.measure === 'string') rows.push(j);
  else if (j.target === 'easel' && 'cold_ms_median' in j) pageload = j;
  else if (['easel', 'peer'].includes(j.target) && 'p50_ms' in j) {
    // An idle-memory run sends one message only: its latency is not a fan-out figure.
    if (j.per_socket_kib !== undefined) put(idle, `${j.idle_sockets}|${client}`, j.target, j);
    else if (j.b_p99_ms !== undefined) cross.set(`${j.tabs}|${client}`, j);
    else put(fanout, `${j.tabs}|${client}`, j.target, j);
  } else console.error(`report: skipping line ${n + 1}: not a line this report knows`);
}

function put(map, key, target, line) {
  if (!map.has(key)) map.set(key, {});
  map.get(key)[target] = line;
}

/** A number in its unit: ms to 2 decimals, bytes as kB, and so on. */
function show(x, unit) {
  if (typeof x === 'string') return x;
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  const fixed = (d) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  switch (unit) {
    case 'ms':
      return `${fixed(2)} ms`;
    case 'kB':
      return `${fixed(1)} kB`;
    case 'KiB/socket':
      return `${fixed(2)} KiB/socket`;
    case 'deliveries/s':
      return `${fixed(0)} deliveries/s`;
    default:
      return `${Number.isInteger(x) ? fixed(0) : fixed(2)}${unit ? ` ${unit}` : ''}`;
  }
}

const table = [];
const row = (measure, easel, peer, unit, { peerName, easelNote = '', peerNote = '' } = {}) => {
  const ratio = typeof easel === 'number' && typeof peer === 'number' && peer !== 0 ? `${(easel / peer).toFixed(2)}×` : '–';
  const peerCell = show(peer, unit) === '–' ? '–' : `${show(peer, unit)}${peerNote}${peerName ? ` (${peerName})` : ''}`;
  const easelCell = show(easel, unit) === '–' ? '–' : `${show(easel, unit)}${easelNote}`;
  if (easelCell === '–' && peerCell === '–') return; // measured by neither (the Rust client counts no throughput)
  table.push(`| ${measure} | ${easelCell} | ${peerCell} | ${ratio} |`);
};
const byTabs = (a, b) => parseFloat(a[0]) - parseFloat(b[0]) || a[0].localeCompare(b[0]);

for (const [key, { easel, peer }] of [...fanout].sort(byTabs)) {
  const [tabs, client] = key.split('|');
  const what = `${tabs} tabs, ${client} client`;
  row(`fan-out p50, ${what}`, easel?.p50_ms, peer?.p50_ms, 'ms');
  row(`fan-out p99, ${what}`, easel?.p99_ms, peer?.p99_ms, 'ms');
  row(`fan-out throughput, ${what}`, easel?.deliveries_per_s, peer?.deliveries_per_s, 'deliveries/s');
}
for (const [key, { easel, peer }] of [...idle].sort(byTabs)) {
  const [sockets, client] = key.split('|');
  row(`idle memory per socket, ${sockets} sockets, ${client} client`, easel?.per_socket_kib, peer?.per_socket_kib, 'KiB/socket');
}
for (const [key, j] of [...cross].sort(byTabs)) {
  const [tabs, client] = key.split('|');
  row(`B-side p99 vs A-side p99, 2 instances over Redis, ${tabs} tabs, ${client} client`, j.b_p99_ms, j.a_p99_ms, 'ms', {
    easelNote: ' (B)',
    peerNote: ' (A)',
  });
}
if (pageload) {
  const runs = pageload.runs ? `, median of ${pageload.runs}` : '';
  row(`page load to online, cold cache${runs}`, pageload.cold_ms_median, null, 'ms');
  row(`page load transfer, cold cache (${pageload.cold_requests} requests)`, pageload.cold_bytes / 1000, null, 'kB');
  row(`page load transfer, warm reload (${pageload.warm_requests} requests)`, pageload.warm_bytes / 1000, null, 'kB');
}
for (const r of rows) row(r.measure, r.easel, r.peer, r.unit, { peerName: r.peer_name });

if (table.length === 0) {
  console.error('report: no measures found');
  process.exit(1);
}
console.log('| measure | Easel | peer | ratio (Easel/peer) |');
console.log('|---|---:|---:|---:|');
for (const line of table) console.log(line);
