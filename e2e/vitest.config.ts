import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// eslint-disable-next-line no-restricted-syntax -- Vitest reads the config from a default export.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['e2e/**/*.test.ts'],
    // Builds the renderer once and checks that Chromium is there, before any test starts.
    globalSetup: ['e2e/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each test starts its own node and browser; a few at once is plenty for a small machine.
    maxWorkers: 2,
  },
});
