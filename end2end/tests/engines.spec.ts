import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";
import { exampleBin, FakeProcess, OwnServer } from "./server";

// A loopback ComfyUI (server/examples/fake_comfyui.rs) speaking the real protocol: a
// WebSocket with progress events and binary preview frames, /prompt, /history, /view and
// the cancel routes. Built by scripts/test; its path comes in FAKE_COMFYUI_BIN.
class FakeComfyUi extends FakeProcess {
  readonly base: string;

  constructor(port: number) {
    super(exampleBin(process.env.FAKE_COMFYUI_BIN, "fake_comfyui"), port, `http://127.0.0.1:${port}/__fake/records`);
    this.base = `http://127.0.0.1:${port}`;
  }

  records(): Promise<{ prompts: number; cancels: string[]; bare_interrupts: number }> {
    return this.get(`${this.base}/__fake/records`);
  }
}

test("a ComfyUI job shows its real steps and a preview, then the image; Cancel stops the engine", async ({ page }) => {
  test.setTimeout(60_000);
  const engine = new FakeComfyUi(Number(process.env.E2E_COMFY_PORT ?? 3188));
  const server = new OwnServer(Number(process.env.E2E_ENGINE_PORT ?? 3109));
  await engine.start();
  try {
    await server.start({ COMFYUI_URL: engine.base, EASEL_PROVIDERS: "comfyui" });
    await signUp(page, uniqueName("cui"), server.base);
    await newChat(page);
    await send(page, "/imagine a lighthouse at dusk");

    const bar = page.getByRole("progressbar", { name: "Image progress" });
    await expect(page.getByText(/Step \d+ of 30: generating your lighthouse scene…/)).toBeVisible();
    const first = Number(await bar.getAttribute("aria-valuenow"));
    await expect.poll(async () => Number(await bar.getAttribute("aria-valuenow"))).toBeGreaterThan(first);
    await expect(page.getByRole("img", { name: "Preview, still in progress" })).toBeVisible();
    await expect(page.getByText(/\d+:\d\d elapsed/)).toBeVisible();

    const image = page.getByRole("log").getByRole("img", { name: "a lighthouse at dusk", exact: true });
    await expect(image).toBeVisible({ timeout: 20_000 });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await expect(page.getByText(/Made by ComfyUI/)).toBeVisible();

    // A second image, cancelled mid-way: the engine is told to cancel that prompt.
    await send(page, "/imagine a storm at sea");
    await expect(page.getByText(/Step \d+ of 30/)).toBeVisible();
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(page.getByText("Generation cancelled.")).toBeVisible();
    await expect.poll(async () => (await engine.records()).cancels.length, { timeout: 2_000 }).toBe(1);
    expect((await engine.records()).bare_interrupts).toBe(0);
  } finally {
    await server.dispose();
    await engine.dispose();
  }
});
