import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName, waitForLive } from "./helpers";
import { OwnServer } from "./server";

test("while the server is down the page says Reconnecting…, and nothing typed is lost or doubled", async ({ page }) => {
  const server = new OwnServer(Number(process.env.E2E_RESTART_PORT ?? 3107));
  await server.start();
  const base = server.base;
  try {
    await signUp(page, uniqueName("ivy"), base);
    await newChat(page);
    await send(page, "Before the restart");
    await expect(page.getByRole("log").getByText("Before the restart")).toBeVisible();

    await server.stop();
    await expect(page.getByRole("status").filter({ hasText: "Reconnecting…" })).toBeVisible();

    await send(page, "Typed while offline");
    const pending = page.getByRole("log").getByRole("article").filter({ hasText: "Typed while offline" });
    await expect(pending).toContainText("Sending…");

    await server.start();
    await waitForLive(page);
    await expect(page.getByRole("status").filter({ hasText: "Reconnecting…" })).toHaveCount(0);
    await expect(pending).toHaveCount(1);
    await expect(pending).not.toContainText("Sending…");

    await page.reload();
    await expect(page.getByRole("log").getByRole("article").filter({ hasText: "Typed while offline" })).toHaveCount(1);
    await expect(page.getByRole("log").getByRole("article").filter({ hasText: "Before the restart" })).toHaveCount(1);
  } finally {
    await server.dispose();
  }
});

test("a server going down for a restart says so, lets the running image finish, and the page comes back", async ({ page }) => {
  const server = new OwnServer(Number(process.env.E2E_DRAIN_PORT ?? 3110));
  // Slow previews, so the image is still being made when the stop begins; 30 s of grace.
  await server.start({ EASEL_RENDER_PACE_MS: "1500", EASEL_SHUTDOWN_GRACE_SECS: "30" });
  try {
    await signUp(page, uniqueName("rex"), server.base);
    await newChat(page);
    await send(page, "/imagine a lighthouse at dusk");
    await expect(page.getByRole("progressbar", { name: "Image progress" })).toBeVisible();

    const stopped = server.stop();
    await expect(page.getByRole("status").filter({ hasText: "The server is restarting" })).toBeVisible();
    // The job finishes within the grace, and the page hears it before the server exits.
    const image = page.getByRole("log").getByRole("img", { name: "a lighthouse at dusk", exact: true });
    await expect(image).toBeVisible({ timeout: 20_000 });
    await stopped;

    await server.start();
    await waitForLive(page);
    await expect(page.getByRole("status").filter({ hasText: /restarting|Reconnecting/ })).toHaveCount(0);
    await expect(image).toBeVisible();
  } finally {
    await server.dispose();
  }
});
