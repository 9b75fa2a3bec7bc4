import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName, waitForLive } from "./helpers";
import { OwnServer } from "./server";

// Its own server: a small free tier (3 an hour, 20 s cooldown), a price for the built-in
// renderer so spend shows, and a named admin.
const server = new OwnServer(Number(process.env.E2E_QUOTA_PORT ?? 3109));
const admin = uniqueName("boss");

test.beforeAll(async () => {
  await server.start({
    EASEL_QUOTA_FREE: "hour=3,cooldown=20",
    EASEL_IMAGE_PRICES: "scene-v1=0.04",
    EASEL_ADMINS: admin,
    EASEL_RENDER_PACE_MS: "150",
  });
});
test.afterAll(async () => {
  await server.stop();
  await server.dispose();
});

test("the remaining quota updates after a generation, and the cooldown says how long to wait", async ({ page }) => {
  await signUp(page, uniqueName("qui"), server.base);
  await newChat(page);
  const left = page.getByRole("status").filter({ hasText: "generations left" });
  await expect(left).toHaveText("3 of 3 hourly generations left");

  await send(page, "/imagine a red barn");
  await expect(page.getByRole("log").getByRole("img", { name: "a red barn", exact: true })).toBeVisible({ timeout: 20_000 });
  await expect(left).toContainText("2 of 3 hourly generations left");
  await expect(left).toContainText(/next image in \d+ seconds/);

  await send(page, "/imagine a blue barn");
  await expect(page.getByRole("log").getByText(/^Please wait \d+ seconds before the next image\.$/)).toBeVisible();
  await expect(left).toContainText("2 of 3 hourly generations left");
});

test("the admin page shows the spend, the chart, and changes a plan", async ({ browser }) => {
  const spender = uniqueName("spe");
  const user = await browser.newPage();
  await signUp(user, spender, server.base);
  await newChat(user);
  await send(user, "/imagine a green barn");
  await expect(user.getByRole("log").getByRole("img", { name: "a green barn", exact: true })).toBeVisible({ timeout: 20_000 });

  // Signing up with the listed name gives no rights (the account did not exist at
  // start-up); the operator's command does, and the next page load shows it.
  const page = await browser.newPage();
  await signUp(page, admin, server.base);
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  server.grantAdmin(admin);
  await page.reload();
  await page.getByRole("link", { name: "Admin" }).click();
  await expect(page.getByRole("heading", { name: "Admin" })).toBeVisible();
  const month = page.locator(".totals div").filter({ has: page.getByRole("term").getByText("This month", { exact: true }) });
  await expect(month.getByRole("definition")).toHaveText(/^\$0\.(0[4-9]|[1-9]\d)$/);
  await expect(page.getByRole("img", { name: /^Daily image spend from/ })).toBeVisible();
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: spender, exact: true }) });
  await expect(row).toContainText("$0.04 of $5.00");

  // Upgrade the spender; their open tab hears of it.
  await waitForLive(page);
  await row.getByRole("combobox", { name: `Plan of ${spender}` }).selectOption("premium");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(user.getByRole("status").filter({ hasText: "generations left" })).toContainText("of 50 hourly");
  await page.reload();
  await expect(page.getByRole("combobox", { name: `Plan of ${spender}` })).toHaveValue("premium");
});
