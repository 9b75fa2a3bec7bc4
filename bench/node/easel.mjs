// What the benchmark clients need of Easel's HTTP side: an account and its session cookie.

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
