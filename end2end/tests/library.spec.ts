import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";

test("the gallery finds an image by its words; a share link opens in a fresh browser until it is revoked", async ({ page, browser }) => {
  test.setTimeout(60_000);
  await signUp(page, uniqueName("lib"));
  await newChat(page);
  const log = page.getByRole("log");
  await send(page, "/imagine a copper kettle on a stove");
  await expect(log.getByRole("img", { name: "a copper kettle on a stove", exact: true })).toBeVisible({ timeout: 20_000 });
  await send(page, "/imagine a glass lighthouse");
  await expect(log.getByRole("img", { name: "a glass lighthouse", exact: true })).toBeVisible({ timeout: 20_000 });

  await page.getByRole("link", { name: "Gallery" }).click();
  await expect(page.getByRole("heading", { name: "Gallery" })).toBeVisible();
  await page.getByLabel("Search images").fill("kettles");
  await page.getByRole("button", { name: "Search" }).click();
  const kettle = page.getByRole("img", { name: "a copper kettle on a stove", exact: true });
  await expect(kettle).toBeVisible();
  await expect(page.getByRole("img", { name: "a glass lighthouse", exact: true })).toHaveCount(0);

  await kettle.click();
  await page.getByRole("button", { name: "Share" }).click();
  const link = page.locator(".share-links a").first();
  await expect(link).toHaveText(/\/s\/[0-9a-f]{64}$/);
  const href = (await link.getAttribute("href")) ?? "";

  const visitor = await browser.newContext();
  const stranger = await visitor.newPage();
  await stranger.goto(href);
  const shared = stranger.getByRole("img", { name: "a copper kettle on a stove", exact: true });
  await expect(shared).toBeVisible();
  await expect.poll(() => shared.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(stranger.getByRole("button", { name: "Log out" })).toHaveCount(0);

  await page.getByRole("button", { name: "Stop sharing" }).click();
  await expect(page.locator(".share-links a")).toHaveCount(0);
  await stranger.reload();
  await expect(stranger.getByText(/This link does not work/)).toBeVisible();
  await visitor.close();
});
