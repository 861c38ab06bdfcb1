import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium; we never download a browser. CI installs it with `apt-get install chromium`. */
export const chromiumPath = process.env['ULTRAVISOR_CHROMIUM'] ?? '/usr/bin/chromium';

/** Throws, with what to do, when Chromium is not installed (the suite must fail, not skip). */
export async function requireChromium(): Promise<void> {
  try {
    await access(chromiumPath, constants.X_OK);
  } catch {
    throw new Error(
      `e2e: Chromium is not installed at ${chromiumPath}. Install it with \`apt-get install -y chromium\` ` +
        '(CI does), or point ULTRAVISOR_CHROMIUM at a Chromium binary. The e2e suite never downloads a browser.',
    );
  }
}

const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh, throwaway profile (so no token or state leaks between tests). */
export async function launchChromium(): Promise<Browser> {
  await requireChromium();
  const profile = await mkdtemp(join(tmpdir(), 'ultravisor-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: chromiumArgs,
    headless: true,
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
