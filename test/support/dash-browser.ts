/**
 * Headless Chromium for the dashboard's browser tests: Debian's `chromium` package driven by
 * playwright-core (which never downloads a browser). Outside CI a machine without Chromium skips
 * those tests with the reason printed; under CI=true a missing browser is a failure (.ci/run
 * installs it).
 */
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * The flags that let Chromium run here: as root (no sandbox), without a GPU, and without the
 * background connections a closed network refuses many at a time.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function executable(file: string | undefined): file is string {
  if (!file) return false;
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const chromiumPath: string | undefined = CANDIDATES.find(executable);
export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** Why the browser tests cannot run here, or null when they can (or must: under CI they never skip). */
export const browserSkipReason: string | null =
  chromiumPath || inCI
    ? null
    : 'no Chromium found (install Debian package chromium, or set CHROMIUM_PATH); CI=true makes this a failure';

if (browserSkipReason) console.warn(`dashboard browser tests skipped: ${browserSkipReason}`);

export async function launchChromium(): Promise<Browser> {
  if (!chromiumPath) {
    throw new Error(
      'Chromium is required for the dashboard browser tests under CI: .ci/run installs Debian package chromium',
    );
  }
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}

/** Where screenshots are kept as test artifacts (git ignores the folder). */
export async function artifactsDir(): Promise<string> {
  const dir = path.resolve('test-artifacts', 'dashboard');
  await mkdir(dir, { recursive: true });
  return dir;
}
