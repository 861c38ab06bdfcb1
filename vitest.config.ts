import { defineConfig } from 'vitest/config';

// eslint-disable-next-line no-restricted-syntax -- Vitest reads the config from a default export.
export default defineConfig({
  test: {
    include: ['main/**/*.test.ts', 'renderer/**/*.test.ts', 'renderer/**/*.test.tsx', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
