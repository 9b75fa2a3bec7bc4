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
