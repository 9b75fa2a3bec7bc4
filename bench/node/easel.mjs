// What the benchmark clients share: their flags, a server's memory, and Easel's HTTP side (an
// account and its session cookie).
import { readFileSync } from 'node:fs';

/** The value after `--name` on the command line, else `fallback`. */
export const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

/** A process's resident memory (VmRSS) in KiB; NaN when /proc does not say. */
export const rssKib = (pid) =>
  Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

/** Signs up `name` at `url`; returns the session cookie as `name=value`. */
export async function signup(url, name, timeoutMs) {
  const res = await fetch(`${url}/auth/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: url },
    body: `username=${name}&password=benchmark%20password`,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const where = res.headers.get('location');
  const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
  if (res.status >= 400 || where !== '/' || !cookie) {
    throw new Error(`sign-up of ${name} failed: HTTP ${res.status}, location ${where}, cookie ${cookie ? 'set' : 'missing'}`);
  }
  return cookie;
}
