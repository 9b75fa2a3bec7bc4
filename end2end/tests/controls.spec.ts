import { deflateSync } from "node:zlib";
import { expect, test } from "@playwright/test";
import { newChat, send, signUp, uniqueName } from "./helpers";
import { exampleBin, FakeProcess, OwnServer } from "./server";

// A loopback OpenAI Images API (server/examples/fake_openai.rs): it answers with `n` images
// and the usage the real API reports, and lists what it was asked at /__fake/requests.
class FakeOpenAi extends FakeProcess {
  readonly base: string;

  constructor(port: number) {
    super(exampleBin(process.env.FAKE_OPENAI_BIN, "fake_openai"), port, `http://127.0.0.1:${port}/__fake/requests`);
    this.base = `http://127.0.0.1:${port}`;
  }

  requests(): Promise<Array<Record<string, unknown>>> {
    return this.get(`${this.base}/__fake/requests`);
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

/** A small PNG photo-like picture (a gradient), encoded here: Node has zlib, not an image library. */
function gradientPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set([(x * 2) % 256, (y * 3) % 256, 120], 1 + x * 3);
    rows.push(row);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

test("on a 375 px phone: attach a picture, paint the area with a finger, and the edit sends it as the mask", async ({ browser }) => {
  test.setTimeout(60_000);
  const fake = new FakeOpenAi(Number(process.env.E2E_OPENAI_PORT ?? 3189));
  const server = new OwnServer(Number(process.env.E2E_CONTROLS_PORT ?? 3110));
  await fake.start();
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });
  try {
    await server.start({
      OPENAI_API_KEY: "sk-fake",
      OPENAI_BASE_URL: `${fake.base}/v1`,
      EASEL_PROVIDERS: "openai",
    });
    const page = await phone.newPage();
    await signUp(page, uniqueName("pnt"), server.base);
    await newChat(page);

    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Attach image" }).click();
    await (await chooser).setFiles({ name: "photo.png", mimeType: "image/png", buffer: gradientPng(300, 200) });
    await expect(page.getByText("Attached: photo.png")).toBeVisible();

    await page.getByRole("button", { name: "Edit area" }).click();
    const painter = page.getByRole("dialog", { name: "Edit area" });
    await expect(painter).toBeVisible();
    await painter.getByLabel("Brush size").fill("60");
    const canvas = painter.getByLabel("Paint the area to change");
    const box = await canvas.boundingBox();
    if (!box) throw new Error("the canvas has no box");
    const at = (fx: number, fy: number) => ({ clientX: box.x + box.width * fx, clientY: box.y + box.height * fy });
    const touch = (type: string, pointerId: number, fx: number, fy: number) =>
      canvas.dispatchEvent(type, { pointerId, pointerType: "touch", isPrimary: pointerId === 1, bubbles: true, ...at(fx, fy) });
    // One finger paints a stroke across the left side.
    await touch("pointerdown", 1, 0.1, 0.5);
    for (const fy of [0.4, 0.3, 0.2]) await touch("pointermove", 1, 0.15, fy);
    await touch("pointerup", 1, 0.15, 0.2);
    // Two fingers (a pinch on the right side) paint nothing.
    await touch("pointerdown", 2, 0.8, 0.4);
    await touch("pointerdown", 3, 0.9, 0.6);
    await touch("pointermove", 2, 0.7, 0.3);
    await touch("pointerup", 2, 0.7, 0.3);
    await touch("pointerup", 3, 0.9, 0.6);
    await painter.getByRole("button", { name: "Apply" }).click();
    await expect(painter).toHaveCount(0);
    await expect(page.getByText(/area painted/)).toBeVisible();

    await send(page, "make the background a beach");
    await expect(page.getByRole("log").getByRole("img", { name: /beach/ })).toBeVisible({ timeout: 20_000 });
    const edit = (await fake.requests()).at(-1) ?? {};
    expect(edit.endpoint).toBe("edits");
    const clear = Number(edit.mask_transparent);
    // The stroke covers part of the left side; the pinch on the right painted nothing.
    expect(clear).toBeGreaterThan(0.02);
    expect(clear).toBeLessThan(0.5);
  } finally {
    await phone.close();
    await server.dispose();
    await fake.dispose();
  }
});
