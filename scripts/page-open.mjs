#!/usr/bin/env node
// Keeps the station page open in Debian's Chromium (headless) for SECONDS, as an operator's
// browser would: for measuring what the page costs the station (scripts/bench-page.sh).
// Usage: node scripts/page-open.mjs URL SECONDS
import { readdirSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";

// CPU seconds of this script and every process under it: the browser (renderer, GPU, utility), from /proc:
// what the page takes from a machine it shares with the station.
function browserCpuSeconds(rootPid) {
  const parent = new Map();
  const ticks = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      parent.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch { /* gone meanwhile */ }
  }
  const under = (p) => p === rootPid || (parent.has(p) && p > 1 && under(parent.get(p)));
  let total = 0;
  for (const [pid, t] of ticks) if (under(pid)) total += t;
  return total / 100; // USER_HZ
}

const [url, seconds = "120"] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, handleSIGTERM: false,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const until = Date.now() + Number(seconds) * 1000;
// Chromium runs under this script's process (playwright's launch); its own share is small.
const pid = process.pid;
let cpuAtLoad = 0;
const cpuReport = () => `, browser CPU ${(browserCpuSeconds(pid) - cpuAtLoad).toFixed(2)} s since the page loaded`;
const seen = () => page.evaluate(() => document.querySelector("[data-testid=count-parts]")?.textContent).catch(() => "?");
// Stopped by the benchmark when it is done: say what the page saw, and leave quietly.
process.on("SIGTERM", async () => {
  console.error(`page-open: ${await seen()} parts seen${cpuReport()}`);
  await browser.close();
  process.exit(0);
});
// The daemon starts after this script: try until the page answers.
for (;;) {
  try {
    await page.goto(url, { timeout: 2000 });
    cpuAtLoad = browserCpuSeconds(pid);
    break;
  } catch {
    if (Date.now() > until) process.exit(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
await page.waitForTimeout(Math.max(0, until - Date.now())).catch(() => undefined); // closed by SIGTERM
console.error(`page-open: ${await seen()} parts seen`);
await browser.close();
