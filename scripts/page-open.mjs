#!/usr/bin/env node
// Keeps the station page open in Debian's Chromium (headless) for SECONDS, as an operator's
// browser would: for measuring what the page costs the station (scripts/bench-page.sh).
// Usage: node scripts/page-open.mjs URL SECONDS
import { chromium } from "playwright-core";

const [url, seconds = "120"] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, handleSIGTERM: false,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const until = Date.now() + Number(seconds) * 1000;
const seen = () => page.evaluate(() => document.querySelector("[data-testid=count-parts]")?.textContent).catch(() => "?");
// Stopped by the benchmark when it is done: say what the page saw, and leave quietly.
process.on("SIGTERM", async () => {
  console.error(`page-open: ${await seen()} parts seen`);
  await browser.close();
  process.exit(0);
});
// The daemon starts after this script: try until the page answers.
for (;;) {
  try {
    await page.goto(url, { timeout: 2000 });
    break;
  } catch {
    if (Date.now() > until) process.exit(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
await page.waitForTimeout(Math.max(0, until - Date.now())).catch(() => undefined); // closed by SIGTERM
console.error(`page-open: ${await seen()} parts seen`);
await browser.close();
