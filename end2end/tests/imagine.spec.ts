import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName, waitForLive } from "./helpers";
import { OwnServer } from "./server";

test("/imagine shows live progress, then the image, in two tabs", async ({ context }) => {
  const page = await context.newPage();
  await signUp(page, uniqueName("ima"));
  await newChat(page);
  const other = await context.newPage();
  await other.goto(page.url());
  await waitForLive(other);

  await send(page, "/imagine a lighthouse at dusk");
  for (const tab of [page, other]) {
    const bar = tab.getByRole("progressbar", { name: "Image progress" });
    await expect(bar).toBeVisible();
    await expect(tab.getByText(/your lighthouse scene…/)).toBeVisible();
    await expect(tab.getByRole("button", { name: "Cancel" })).toBeVisible();
  }
  for (const tab of [page, other]) {
    const image = tab.getByRole("log").getByRole("img", { name: "a lighthouse at dusk", exact: true });
    await expect(image).toBeVisible({ timeout: 20_000 });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await expect(tab.getByRole("progressbar")).toHaveCount(0);
    await expect(tab.getByText("Made offline by the built-in renderer")).toBeVisible();
  }
  await page.getByText("Prompts").click();
  await expect(page.getByText("Sent to the provider")).toBeVisible();

  // After a reload the image is still there, served from storage.
  await page.reload();
  await expect(page.getByRole("log").getByRole("img", { name: "a lighthouse at dusk", exact: true })).toBeVisible();
  const full = page.getByRole("link").filter({ has: page.getByRole("img", { name: "a lighthouse at dusk", exact: true }) });
  await expect(full).toHaveAttribute("href", /\/images\/\d+\/full$/);
});

test.describe("on a 375 px phone", () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test("the image fits the column", async ({ page }) => {
    await signUp(page, uniqueName("imp"));
    await newChat(page);
    await send(page, "/imagine mountains at sunrise");
    const image = page.getByRole("log").getByRole("img", { name: "mountains at sunrise", exact: true });
    await expect(image).toBeVisible({ timeout: 20_000 });
    const box = await image.boundingBox();
    expect(box?.width ?? 999).toBeLessThanOrEqual(375);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});

test("Cancel stops a slow generation, and Retry after an interruption makes the image", async ({ page }) => {
  const server = new OwnServer(Number(process.env.E2E_JOBS_PORT ?? 3108));
  // SIGTERM gives running jobs a second, then closes them as interrupted.
  await server.start({ EASEL_RENDER_PACE_MS: "20000", EASEL_SHUTDOWN_GRACE_SECS: "1" });
  try {
    await signUp(page, uniqueName("can"), server.base);
    await newChat(page);
    await send(page, "/imagine a slow sunset");
    await expect(page.getByRole("progressbar", { name: "Image progress" })).toBeVisible();
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(page.getByText("Generation cancelled.")).toBeVisible({ timeout: 3_000 });
    await expect(page.getByRole("progressbar")).toHaveCount(0);

    // A new one starts at once; then the server stops under it.
    await send(page, "/imagine a lighthouse at night");
    await expect(page.getByRole("progressbar", { name: "Image progress" })).toBeVisible();
    await server.stop();
    await server.start({ EASEL_RENDER_PACE_MS: "50" });
    await page.reload();
    await expect(page.getByRole("alert").filter({ hasText: "interrupted" })).toBeVisible();
    await waitForLive(page);
    await page.getByRole("button", { name: "Retry" }).last().click();
    await expect(page.getByRole("log").getByRole("img", { name: "a lighthouse at night", exact: true })).toBeVisible({ timeout: 20_000 });
  } finally {
    await server.dispose();
  }
});

test("a tab opened mid-generation shows the same job, its progress, then the image", async ({ context }) => {
  const server = new OwnServer(Number(process.env.E2E_JOBS_PORT ?? 3108));
  await server.start({ EASEL_RENDER_PACE_MS: "1500" });
  try {
    const page = await context.newPage();
    await signUp(page, uniqueName("mid"), server.base);
    await newChat(page);
    await send(page, "/imagine a harbor at dawn");
    await expect(page.getByRole("progressbar", { name: "Image progress" })).toHaveAttribute("aria-valuenow", "60");

    const late = await context.newPage();
    await late.goto(page.url());
    const bar = late.getByRole("progressbar", { name: "Image progress" });
    await expect(bar).toBeVisible();
    expect(Number(await bar.getAttribute("aria-valuenow"))).toBeGreaterThanOrEqual(30);
    await expect(late.getByRole("button", { name: "Cancel" })).toBeVisible();
    await expect(late.getByRole("log").getByRole("img", { name: "a harbor at dawn", exact: true })).toBeVisible({ timeout: 20_000 });
    await expect(page.getByRole("log").getByRole("img", { name: "a harbor at dawn", exact: true })).toBeVisible();
  } finally {
    await server.dispose();
  }
});
