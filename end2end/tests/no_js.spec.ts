import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";

test("the transcript is readable with JavaScript disabled", async ({ page, browser }) => {
  await signUp(page, uniqueName("gus"));
  await newChat(page);
  await send(page, "Readable without scripts");
  await expect(page.getByRole("log").getByText("Readable without scripts")).toBeVisible();
  const url = page.url();
  const cookies = await page.context().cookies();

  const noJs = await browser.newContext({ javaScriptEnabled: false });
  await noJs.addCookies(cookies);
  const plain = await noJs.newPage();
  await plain.goto(url);
  const log = plain.getByRole("log");
  await expect(log.getByRole("article").filter({ hasText: "Readable without scripts" })).toBeVisible();
  await expect(plain.getByRole("navigation", { name: "Threads" })).toBeVisible();

  // Without scripts the composer is a plain form, and it still works.
  await plain.getByRole("textbox", { name: "Message" }).fill("Sent by a form");
  await plain.getByRole("button", { name: "Send" }).click();
  await expect(plain.getByRole("log").getByText("Sent by a form")).toBeVisible();
  await noJs.close();
});
