/**
 * Debian's headless Chromium for browser tests, driven by playwright-core (never a downloaded
 * browser build). Outside CI a machine without it skips the browser tests, saying why; with CI
 * set a missing browser fails the run.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags that keep Chromium quiet on a closed network and runnable as root. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const SKIP_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;
export const SKIP_REASON = `${CHROMIUM} not found (apt-get install -y chromium); browser test skipped outside CI`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}
