import { expect, type Page } from "@playwright/test";

/** A username no other test (or earlier run against the same database) has used. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export const PASSWORD = "correct horse battery";

/** Waits until the WASM app has hydrated (the socket loop marks the body). */
export async function waitForLive(page: Page) {
  await expect(page.locator("body[data-live='online']")).toBeAttached();
}

export async function signUp(page: Page, username: string, base = "") {
  await page.goto(`${base}/signup`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
}

/** Presses New chat and waits until the new thread is open. */
export async function newChat(page: Page) {
  await waitForLive(page);
  await page.getByRole("button", { name: "New chat" }).click();
  await expect(page).toHaveURL(/\/threads\/\d+$/);
  await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();
}

export async function send(page: Page, text: string) {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}
