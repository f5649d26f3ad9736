/**
 * Launching Debian's Chromium (/usr/bin/chromium) with playwright-core, for the dashboard's browser
 * tests and screenshots. Never downloads a browser.
 *
 * When Chromium is missing, browser tests SKIP with a loud line saying how to install it, so that
 * `npm test` passes on a machine with only Node.js; with KAIROS_REQUIRE_BROWSER=1 (set by .ci/run,
 * which installs it) a missing Chromium fails them instead. In a test file, either:
 *
 *     const missing = chromiumMissing();                 // file level: a reason, or undefined
 *     test('…', { skip: missing }, async () => { const { browser, close } = await launchChromium(); … });
 *
 * or, inside one test:
 *
 *     test('…', async (t) => {
 *       const chromium = await browserOrSkip(t);         // undefined: the test was skipped
 *       if (!chromium) return;
 *       try { … chromium.browser.newPage() … } finally { await chromium.close(); }
 *     });
 *
 * `launchChromium()` itself still throws when Chromium is missing (scripts/screenshots.ts needs it).
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is expected (override with KAIROS_CHROMIUM). */
export const CHROMIUM_PATH = process.env.KAIROS_CHROMIUM ?? '/usr/bin/chromium';

/** A launched browser and how to close it. */
export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

const HOW_TO_INSTALL = 'install Debian\'s package (apt-get install -y chromium) or set KAIROS_CHROMIUM to its path';

/**
 * Why browser tests cannot run here (undefined when they can), printed as a loud line. Throws when
 * the browser is required (KAIROS_REQUIRE_BROWSER=1) and missing.
 */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const why = `Chromium not found at ${CHROMIUM_PATH}: the dashboard's browser tests are SKIPPED (${HOW_TO_INSTALL})`;
  if (process.env.KAIROS_REQUIRE_BROWSER === '1') throw new Error(`${why}; KAIROS_REQUIRE_BROWSER=1 makes them required`);
  console.log(`\n*** ${why} ***\n`);
  return why;
}

/** Launch Chromium for this test, or skip the test (with the reason) when it is missing; see the file's comment. */
export async function browserOrSkip(t: TestContext): Promise<LaunchedChromium | undefined> {
  const missing = chromiumMissing();
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  return launchChromium();
}

/** A headless Chromium (playwright gives it a fresh temporary profile, removed on close); throws when Chromium is missing. */
export async function launchChromium(): Promise<LaunchedChromium> {
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
