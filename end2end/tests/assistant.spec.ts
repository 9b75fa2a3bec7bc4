import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";

test("'draw me a red fox' makes an image without a command; 'make it more vibrant' makes a second, linked to the first", async ({ page }) => {
  await signUp(page, uniqueName("fox"));
  await newChat(page);
  const log = page.getByRole("log");

  await send(page, "draw me a red fox");
  const first = log.getByRole("img", { name: "a red fox", exact: true });
  await expect(first).toBeVisible({ timeout: 20_000 });

  await send(page, "make it more vibrant");
  const second = log.getByRole("img", { name: "a red fox, more vibrant", exact: true });
  await expect(second).toBeVisible({ timeout: 20_000 });

  // `has` locators are relative to the figure, so they start from the page.
  const firstFigure = page.getByRole("figure").filter({ has: page.getByRole("img", { name: "a red fox", exact: true }) });
  const secondFigure = page.getByRole("figure").filter({ has: page.getByRole("img", { name: "a red fox, more vibrant", exact: true }) });
  const link = secondFigure.getByRole("link", { name: "a red fox", exact: true });
  await expect(link).toBeVisible();
  const id = await firstFigure.getAttribute("id");
  expect(id).toMatch(/^job-\d+$/);
  await expect(link).toHaveAttribute("href", `#${id}`);

  // The prompts are all shown: the user's words and what was sent.
  await secondFigure.getByText("Prompts").click();
  await expect(secondFigure.getByText("make it more vibrant", { exact: true })).toBeVisible();

  // After a reload the lineage is still there.
  await page.reload();
  await expect(secondFigure.getByRole("link", { name: "a red fox", exact: true })).toHaveAttribute("href", `#${id}`);
});

test("a plain question gets a short answer, not an image", async ({ page }) => {
  await signUp(page, uniqueName("ask"));
  await newChat(page);
  await send(page, "how do I draw better hands?");
  await expect(page.getByRole("log").getByText(/I can only make images here/)).toBeVisible();
  await expect(page.getByRole("progressbar")).toHaveCount(0);
  await expect(page.getByRole("log").getByRole("img")).toHaveCount(0);
});

test("a misspelt request in chat spelling makes an image, and a one-word change refines it", async ({ page }) => {
  await signUp(page, uniqueName("typo"));
  await newChat(page);
  const log = page.getByRole("log");

  await send(page, "cna u drwa a lighthouse in a storm plz");
  const first = log.getByRole("img", { name: "a lighthouse in a storm", exact: true });
  await expect(first).toBeVisible({ timeout: 20_000 });

  await send(page, "darker");
  const second = log.getByRole("img", { name: "a lighthouse in a storm, darker", exact: true });
  await expect(second).toBeVisible({ timeout: 20_000 });
  const secondFigure = page.getByRole("figure").filter({ has: page.getByRole("img", { name: "a lighthouse in a storm, darker", exact: true }) });
  const firstFigure = page.getByRole("figure").filter({ has: page.getByRole("img", { name: "a lighthouse in a storm", exact: true }) });
  const id = await firstFigure.getAttribute("id");
  await expect(secondFigure.getByRole("link", { name: "a lighthouse in a storm", exact: true })).toHaveAttribute("href", `#${id}`);
});
