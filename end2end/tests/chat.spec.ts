import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName, waitForLive } from "./helpers";

test("sign up, create a thread, send a message; a second tab sees it live", async ({ context }) => {
  const page = await context.newPage();
  await signUp(page, uniqueName("ada"));
  const other = await context.newPage();
  await other.goto("/");
  await waitForLive(other);

  await newChat(page);
  await send(page, "Hello from the first tab");
  const log = page.getByRole("log");
  await expect(log.getByRole("article").filter({ hasText: "Hello from the first tab" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Message" })).toHaveValue("");

  // The second tab lists the thread (named after the message) without a reload…
  const threads = other.getByRole("navigation", { name: "Threads" });
  await threads.getByRole("link", { name: "Hello from the first tab" }).click();
  await expect(other.getByRole("log").getByRole("article").filter({ hasText: "Hello from the first tab" })).toBeVisible();

  // …and sees the next message arrive live.
  await send(page, "And a second one");
  await expect(other.getByRole("log").getByText("And a second one")).toBeVisible();
});

test("a reload keeps the thread and its messages", async ({ page }) => {
  await signUp(page, uniqueName("bea"));
  await newChat(page);
  await send(page, "Remember this");
  await expect(page.getByRole("log").getByText("Remember this")).toBeVisible();
  const url = page.url();
  await page.reload();
  await expect(page).toHaveURL(url);
  await expect(page.getByRole("log").getByRole("article").filter({ hasText: "Remember this" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Threads" }).getByRole("link", { name: "Remember this" })).toBeVisible();
});

test("rename and delete show up in the other tab", async ({ context }) => {
  const page = await context.newPage();
  await signUp(page, uniqueName("cyd"));
  await newChat(page);
  const other = await context.newPage();
  await other.goto(page.url());
  await waitForLive(other);

  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("textbox", { name: "Thread title" }).fill("Trip ideas");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(other.getByRole("heading", { name: "Trip ideas" })).toBeVisible();
  await expect(other.getByRole("navigation", { name: "Threads" }).getByRole("link", { name: "Trip ideas" })).toBeVisible();

  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(other).toHaveURL(/\/$/);
  await expect(other.getByRole("navigation", { name: "Threads" }).getByRole("link", { name: "Trip ideas" })).toHaveCount(0);
});

test("another user sees none of it", async ({ browser }) => {
  const first = await browser.newContext();
  const page = await first.newPage();
  await signUp(page, uniqueName("dan"));
  await newChat(page);
  await send(page, "Private note");
  await expect(page.getByRole("log").getByText("Private note")).toBeVisible();
  const threadUrl = page.url();

  const second = await browser.newContext();
  const intruder = await second.newPage();
  await signUp(intruder, uniqueName("eve"));
  await expect(intruder.getByRole("navigation", { name: "Threads" }).getByText("Private note")).toHaveCount(0);
  await intruder.goto(threadUrl);
  await expect(intruder.getByText("This thread does not exist, or it is not yours.")).toBeVisible();
  await expect(intruder.getByText("Private note")).toHaveCount(0);
  await first.close();
  await second.close();
});

test("log out and log in again", async ({ page }) => {
  const name = uniqueName("fay");
  await signUp(page, name);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
  await page.getByRole("link", { name: "Log in" }).click();
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
});

test("what is typed before the page becomes interactive is kept", async ({ page }) => {
  // Hold the WASM back so typing happens on the server-rendered page, then let it hydrate.
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  await page.route("**/pkg/*.wasm", async (route) => {
    await gate;
    await route.continue();
  });
  const name = uniqueName("jan");
  await page.goto("/signup");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill("correct horse battery");
  release();
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.getByLabel("Username")).toHaveValue(name);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
});

test("a new password signs the other devices out at once, and this browser stays in", async ({ browser }) => {
  const name = uniqueName("pat");
  const laptop = await (await browser.newContext()).newPage();
  await signUp(laptop, name);
  const phone = await (await browser.newContext()).newPage();
  await phone.goto("/login");
  await phone.getByLabel("Username").fill(name);
  await phone.getByLabel("Password").fill("correct horse battery");
  await phone.getByRole("button", { name: "Log in" }).click();
  await expect(phone.getByRole("button", { name: "Log out" })).toBeVisible();
  await waitForLive(phone);

  await laptop.getByRole("link", { name }).click();
  await expect(laptop.getByRole("heading", { name: "Account" })).toBeVisible();
  await laptop.getByLabel("Current password").fill("correct horse battery");
  await laptop.getByLabel("New password").fill("a much better passphrase");
  await laptop.getByRole("button", { name: "Change password" }).click();
  await expect(laptop.getByRole("status").filter({ hasText: "Password changed." })).toBeVisible();
  await expect(laptop.getByRole("button", { name: "Log out" })).toBeVisible();

  // The phone's open tab is closed by the server and shows the visitor's page.
  await expect(phone.getByRole("link", { name: "Log in" })).toBeVisible({ timeout: 5_000 });
  await phone.reload();
  await expect(phone.getByRole("link", { name: "Log in" })).toBeVisible();

  // Sign out everywhere ends this browser's session too.
  await laptop.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(laptop.getByRole("link", { name: "Log in" })).toBeVisible();
});
