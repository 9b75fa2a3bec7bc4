import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Tests that must stop, restart or slow down the server run their own instance of the binary
// the suite was built with, on their own port and database; the shared server stays up.
const bin = process.env.EASEL_SERVER_BIN ?? `${process.env.CARGO_TARGET_DIR ?? "../target"}/debug/server`;

export class OwnServer {
  readonly base: string;
  private child: ChildProcess | null = null;
  private readonly dbDir = mkdtempSync(join(tmpdir(), "easel-e2e-"));

  constructor(private readonly port: number) {
    this.base = `http://127.0.0.1:${port}`;
  }

  async start(env: Record<string, string> = {}) {
    // A server left on this port by a test that timed out would answer in this one's place.
    if (await fetch(`${this.base}/healthz`).then(() => true, () => false)) {
      throw new Error(`port ${this.port} is already serving: an earlier test's server is still running`);
    }
    this.child = spawn(bin, [], {
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: `sqlite://${this.dbDir}/easel.db`,
        // Roomy quotas unless a test sets its own (quota.spec.ts), and roomy sign-up and
        // login rates (every test signs up from 127.0.0.1).
        EASEL_QUOTA_FREE: "hour=1000,day=1000,month=1000,cooldown=0",
        EASEL_SIGNUPS_PER_HOUR: "100000",
        EASEL_LOGINS_PER_MINUTE: "100000",
        EASEL_SOCKETS_PER_ADDRESS: "100000",
        EASEL_LOGINS_PER_NAME_PER_MINUTE: "100000",
        ...env,
      },
      stdio: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${this.base}/healthz`).then((r) => r.ok, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server ${bin} did not answer on ${this.base}`);
  }

  /** Gives `name` the admin right with the operator's command, on this server's database. */
  grantAdmin(name: string) {
    const run = spawnSync(bin, ["admin", "grant", name], {
      env: { ...process.env, DATABASE_URL: `sqlite://${this.dbDir}/easel.db` },
      encoding: "utf8",
    });
    if (run.status !== 0) throw new Error(`admin grant ${name} failed: ${run.stdout}${run.stderr}`);
  }

  /** SIGTERM, as a deploy or a crash-free restart would. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  /** Kills the server and waits until it is gone, so the next test can bind the same port. */
  async dispose() {
    await killAndWait(this.child);
    rmSync(this.dbDir, { recursive: true, force: true });
  }
}

/** SIGKILL, then wait for the exit: the port is free when this returns. */
export async function killAndWait(child: ChildProcess | null) {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * A loopback fake (an engine, an API, a mail server) from `server/examples`, on a fixed
 * port, ready once `readyUrl` answers.
 */
export class FakeProcess {
  private child: ChildProcess | null = null;

  constructor(
    private readonly bin: string,
    readonly port: number,
    private readonly readyUrl: string,
  ) {}

  async start() {
    this.child = spawn(this.bin, ["--port", String(this.port)], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (await fetch(this.readyUrl).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.bin} did not answer at ${this.readyUrl}`);
  }

  async get<T>(url: string): Promise<T> {
    return (await fetch(url)).json() as Promise<T>;
  }

  async dispose() {
    await killAndWait(this.child);
  }
}

/** Where `cargo build --example {name}` put it (scripts/test passes the paths). */
export function exampleBin(env: string | undefined, name: string): string {
  return env ?? `${process.env.CARGO_TARGET_DIR ?? "../target"}/debug/examples/${name}`;
}
