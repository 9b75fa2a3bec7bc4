import { type ChildProcess, spawn } from "node:child_process";
import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";
import { killAndWait, OwnServer } from "./server";

// A loopback OpenAI Images API (server/examples/fake_openai.rs): it answers with `n` images
// and the usage the real API reports, and lists what it was asked at /__fake/requests.
const fakeBin = process.env.FAKE_OPENAI_BIN ?? `${process.env.CARGO_TARGET_DIR ?? "../target"}/debug/examples/fake_openai`;

class FakeOpenAi {
  readonly base: string;
  private child: ChildProcess | null = null;

  constructor(private readonly port: number) {
    this.base = `http://127.0.0.1:${port}`;
  }

  async start() {
    this.child = spawn(fakeBin, ["--port", String(this.port)], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${this.base}/__fake/requests`).then((r) => r.ok, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fake OpenAI ${fakeBin} did not answer on ${this.base}`);
  }

  async requests(): Promise<Array<Record<string, unknown>>> {
    return (await fetch(`${this.base}/__fake/requests`)).json();
  }

  async dispose() {
    await killAndWait(this.child);
  }
}

test("the settings row reaches the provider: shape, quality and three images, priced before Send; Refine edits one", async ({ page }) => {
  test.setTimeout(60_000);
  const fake = new FakeOpenAi(Number(process.env.E2E_OPENAI_PORT ?? 3189));
  const server = new OwnServer(Number(process.env.E2E_CONTROLS_PORT ?? 3110));
  await fake.start();
  try {
    await server.start({
      OPENAI_API_KEY: "sk-fake",
      OPENAI_BASE_URL: `${fake.base}/v1`,
      EASEL_PROVIDERS: "openai,builtin",
      EASEL_DEFAULT_PROVIDER: "openai",
    });
    await signUp(page, uniqueName("row"), server.base);
    await newChat(page);

    const price = page.locator(".image-row .price");
    await expect(price).toHaveText(/^≈ \$\d+\.\d\d/);
    const one = await price.textContent();
    await page.getByLabel("Aspect ratio").selectOption({ label: "Landscape 3:2" });
    await page.getByLabel("Quality").selectOption({ label: "High" });
    await page.getByLabel("Images").selectOption("3");
    // Three high-quality landscape images cost more than one default square one.
    await expect(price).not.toHaveText(one ?? "");
    const three = Number((await price.textContent())?.match(/\$(\d+\.\d\d)/)?.[1]);
    expect(three).toBeGreaterThan(Number(one?.match(/\$(\d+\.\d\d)/)?.[1]));

    await send(page, "/imagine a lighthouse at dusk");
    const log = page.getByRole("log");
    for (const n of [1, 2, 3]) {
      await expect(log.getByRole("img", { name: new RegExp(`^a lighthouse at dusk.* \\(${n} of 3\\)$`) })).toBeVisible({ timeout: 20_000 });
    }
    const [asked] = await fake.requests();
    expect(asked).toMatchObject({ n: 3, size: "1536x1024", quality: "high" });
    await expect(log.getByRole("link", { name: "Download" })).toHaveCount(3);

    // Refine the second image: the next message changes that one.
    await log.getByRole("button", { name: "Refine" }).nth(1).click();
    await expect(page.getByText("Changing image 2 of 3: lighthouse")).toBeVisible();
    await send(page, "at night");
    await expect(log.getByText("Refines")).toBeVisible({ timeout: 20_000 });
    await expect.poll(async () => (await fake.requests()).at(-1)?.endpoint).toBe("edits");

    // Defaults live on the settings page.
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Default aspect ratio").selectOption({ label: "Portrait 2:3" });
    await page.getByLabel("Default quality").selectOption({ label: "Low" });
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Settings saved." })).toBeVisible();
    await page.reload();
    await expect(page.getByLabel("Default aspect ratio")).toHaveValue("portrait");
    await expect(page.getByLabel("Default quality")).toHaveValue("low");
  } finally {
    await server.dispose();
    await fake.dispose();
  }
});
