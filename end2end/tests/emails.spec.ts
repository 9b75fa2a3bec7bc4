import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";
import { exampleBin, FakeProcess, OwnServer } from "./server";

// A loopback SMTP server (server/examples/fake_smtp.rs): SMTP on `port`, the mails it
// received as JSON on `port + 1`.
type Mail = { from: string; to: string[]; data: string };

class FakeSmtp extends FakeProcess {
  constructor(port: number) {
    super(exampleBin(process.env.FAKE_SMTP_BIN, "fake_smtp"), port, `http://127.0.0.1:${port + 1}/__fake/mails`);
  }

  mails(): Promise<Mail[]> {
    return this.get(`http://127.0.0.1:${this.port + 1}/__fake/mails`);
  }
}

const subject = (m: Mail) => m.data.split("\n").find((l) => l.startsWith("Subject: "))?.slice(9);

test("the 80 % email arrives at the SMTP server once, for the address on the settings page", async ({ page }) => {
  test.setTimeout(60_000);
  const smtp = new FakeSmtp(Number(process.env.E2E_SMTP_PORT ?? 2526));
  const server = new OwnServer(Number(process.env.E2E_EMAIL_PORT ?? 3112));
  await smtp.start();
  try {
    await server.start({
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      EMAIL_FROM: "Easel <easel@example.org>",
      EASEL_QUOTA_FREE: "hour=5,day=100,month=1000,cooldown=0",
    });
    await signUp(page, uniqueName("mail"), server.base);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Settings saved." })).toBeVisible();
    await expect(page.getByLabel("Email")).toHaveValue("ada@example.com");

    await page.goto(`${server.base}/`);
    await newChat(page);
    const log = page.getByRole("log");
    for (const n of [1, 2, 3, 4, 5]) {
      await send(page, `/imagine lantern number ${n}`);
      await expect(log.getByRole("img", { name: `lantern number ${n}`, exact: true })).toBeVisible({ timeout: 20_000 });
    }
    await expect.poll(async () => (await smtp.mails()).length, { timeout: 5_000 }).toBe(2);
    const mails = await smtp.mails();
    const eighty = mails.filter((m) => subject(m) === "Easel: 80 % of your hourly images used");
    expect(eighty).toHaveLength(1);
    expect(eighty[0].to).toEqual(["ada@example.com"]);
    expect(mails.map(subject)).toContain("Easel: your hourly images are used up");
  } finally {
    await server.dispose();
    await smtp.dispose();
  }
});
