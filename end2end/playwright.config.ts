import { defineConfig, devices } from "@playwright/test";

// Browsers cannot be downloaded here: use Debian's chromium (apt-get install -y chromium).
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// .ci/run (and `cargo leptos end-to-end`) start the server at LEPTOS_SITE_ADDR.
const baseURL = process.env.BASE_URL ?? `http://${process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000"}`;

const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "off",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
      },
    },
  ],
});
