#!/usr/bin/env node
// Keeps the station page open in Debian's Chromium (headless) for SECONDS, as an operator's
// browser would: for measuring what the page costs the station (scripts/bench-page.sh).
// Usage: node scripts/page-open.mjs URL SECONDS
import { chromium } from "playwright-core";

const [url, seconds = "120"] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const until = Date.now() + Number(seconds) * 1000;
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
await page.waitForTimeout(Math.max(0, until - Date.now()));
const parts = await page.evaluate(() => document.querySelector("[data-testid=count-parts]")?.textContent);
console.error(`page-open: ${parts} parts seen`);
await browser.close();
