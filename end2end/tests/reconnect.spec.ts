import { expect, test } from "@playwright/test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newChat, send, signUp, uniqueName, waitForLive } from "./helpers";

// This test runs its own server (the binary the suite was built with) so it can stop and
// restart it: the shared server on LEPTOS_SITE_ADDR stays up for the other tests.
const bin = process.env.EASEL_SERVER_BIN ?? `${process.env.CARGO_TARGET_DIR ?? "../target"}/debug/server`;
const port = Number(process.env.E2E_RESTART_PORT ?? 3107);
const base = `http://127.0.0.1:${port}`;

async function startServer(dbDir: string): Promise<ChildProcess> {
  const child = spawn(bin, [], {
    env: { ...process.env, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, DATABASE_URL: `sqlite://${dbDir}/easel.db` },
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`server ${bin} did not answer on ${base}`);
}

async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

test("while the server is down the page says Reconnecting…, and nothing typed is lost or doubled", async ({ page }) => {
  const dbDir = mkdtempSync(join(tmpdir(), "easel-e2e-"));
  let server = await startServer(dbDir);
  try {
    await signUp(page, uniqueName("ivy"), base);
    await newChat(page);
    await send(page, "Before the restart");
    await expect(page.getByRole("log").getByText("Before the restart")).toBeVisible();

    await stopServer(server);
    await expect(page.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible();

    await send(page, "Typed while offline");
    const pending = page.getByRole("log").getByRole("article").filter({ hasText: "Typed while offline" });
    await expect(pending).toContainText("Sending…");

    server = await startServer(dbDir);
    await waitForLive(page);
    await expect(page.getByRole("status").filter({ hasText: "Reconnecting…" })).toHaveCount(0);
    await expect(pending).toHaveCount(1);
    await expect(pending).not.toContainText("Sending…");

    await page.reload();
    await expect(page.getByRole("log").getByRole("article").filter({ hasText: "Typed while offline" })).toHaveCount(1);
    await expect(page.getByRole("log").getByRole("article").filter({ hasText: "Before the restart" })).toHaveCount(1);
  } finally {
    server.kill("SIGKILL");
    rmSync(dbDir, { recursive: true, force: true });
  }
});
