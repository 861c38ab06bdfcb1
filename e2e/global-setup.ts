import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { requireChromium } from './support/chromium.js';

/**
 * Runs once before the e2e tests: fails at once (with the fix) when Chromium is missing, then
 * builds the renderer into dist/renderer, which `ultravisor serve` serves.
 */
export async function setup(): Promise<void> {
  await requireChromium();
  await build({
    configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
    logLevel: 'warn',
  });
}
