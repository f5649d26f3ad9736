/**
 * Launching Debian's Chromium (/usr/bin/chromium) with playwright-core, for the dashboard's browser
 * test and screenshots. Never downloads a browser: when Chromium is missing this fails with a
 * message saying how to install it (CI installs it in .ci/run).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is expected (override with KAIROS_CHROMIUM). */
export const CHROMIUM_PATH = process.env.KAIROS_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium (playwright gives it a fresh temporary profile, removed on close). */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: the dashboard's browser test needs it. Install Debian's package (apt-get install -y chromium) or set KAIROS_CHROMIUM to its path.`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}
