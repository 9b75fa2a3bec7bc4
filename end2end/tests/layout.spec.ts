import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";

test.use({ viewport: { width: 375, height: 740 } });

test("on a 375 px phone nothing overflows sideways and the composer is reachable", async ({ page }) => {
  await signUp(page, uniqueName("hal"));
  await newChat(page);
  await send(page, "A fairly long message that has to wrap inside a narrow phone screen without scrolling sideways");
  await expect(page.getByRole("log").getByText("A fairly long message")).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByRole("textbox", { name: "Message" })).toBeInViewport();
  await expect(page.getByRole("button", { name: "Send" })).toBeInViewport();
});
