// Headless Chromium for the HTML report tests: where it is, whether a test runs or skips without
// it, and a page opened from disk with every request and console error recorded.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";

export const CHROMIUM = process.env.SMTPCHAOS_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumMissing = existsSync(CHROMIUM) ? null : `${CHROMIUM} missing (apt-get install chromium, or run scripts/setup-browser.sh)`;
/** In CI a missing browser is a failure (the test runs and says why); locally it is a skip. */
export const chromiumSkip: string | false = chromiumMissing !== null && process.env.CI === undefined ? `chromium: ${chromiumMissing}` : false;

export function requireChromium(): void {
  if (chromiumMissing !== null) throw new Error(`Chromium is required in CI: ${chromiumMissing}`);
}

export interface Visit {
  page: Page;
  requests: string[];
  errors: string[];
}

/** Opens a file in a fresh page, recording every request and every console error or warning. */
export async function visit(browser: Browser, file: string): Promise<Visit> {
  const page = await browser.newPage({ viewport: { width: 1340, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  return { page, requests, errors };
}
