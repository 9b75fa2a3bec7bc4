import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";

// The chat page's bundle carries only the chat: the admin, gallery, settings, account and
// share pages and the mask painter are lazy WASM chunks (`cargo leptos build --split`),
// fetched the first time they are needed, whether by a link or by opening their address.
test("the chat page loads no page chunk; a link to Settings fetches its chunk and the page works", async ({ page }) => {
  const wasm: string[] = [];
  page.on("request", (req) => {
    if (req.url().endsWith(".wasm")) wasm.push(new URL(req.url()).pathname);
  });
  await signUp(page, uniqueName("lean"));
  await newChat(page);
  await send(page, "a quiet morning");
  await expect(page.getByRole("log").getByText("a quiet morning")).toBeVisible();
  expect(new Set(wasm.filter((p) => /\/easel\.[^/]*\.wasm$/.test(p))).size).toBe(1);
  expect(wasm.filter((p) => p.includes("split_")), `chunks fetched on the chat page: ${wasm}`).toEqual([]);

  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  await expect.poll(() => wasm.some((p) => p.includes("split___settings_route"))).toBe(true);
  expect(wasm.some((p) => p.includes("split___admin_route"))).toBe(false);

  // Opened by its address, the gallery hydrates with its chunk and its links work.
  await page.goto("/gallery");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect.poll(() => wasm.some((p) => p.includes("split___gallery_route"))).toBe(true);
  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
});
