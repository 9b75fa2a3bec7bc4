// Server memory after a burst of sign-ups: Argon2 takes 19 MiB per hash, and where the
// allocator keeps that memory afterwards decides what a server holds after a busy hour.
//
//   node signups.mjs --url http://127.0.0.1:PORT --pid PID [--users 200] [--at-once 4]
//
// Signs up `users` throw-away accounts, `at-once` concurrently, then waits a second and reads
// the server's VmRSS. Prints one {"kind":"row",…} line for report.mjs.
import { arg, rssKib, signup } from './easel.mjs';

const url = (arg('url') ?? '').replace(/\/+$/, '');
const pid = Number(arg('pid'));
const users = Number(arg('users', 200));
const atOnce = Number(arg('at-once', 4));
if (!/^https?:\/\//.test(url) || !(pid > 0)) {
  console.error('signups: --url http://… and --pid are required');
  process.exit(1);
}

const before = rssKib(pid);
const tag = Date.now().toString(36);
let next = 0;
await Promise.all(
  Array.from({ length: atOnce }, async () => {
    while (next < users) {
      const i = next++;
      await signup(url, `rss_${tag}_${i}`, 60_000);
    }
  }),
);
await new Promise((resolve) => setTimeout(resolve, 1000));
const after = rssKib(pid);
const mib = (kib) => (kib / 1024).toFixed(0);
console.log(
  JSON.stringify({
    kind: 'row',
    measure: `server RSS after ${users} sign-ups, ${atOnce} at a time (before → after)`,
    easel: `${mib(before)} → ${mib(after)} MiB`,
    unit: 'MiB',
  }),
);
