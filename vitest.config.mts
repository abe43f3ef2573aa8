import { defineConfig } from 'vitest/config';

// One runner for the whole suite (`npm test`): unit, property, handler integration, CDK, e2e.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
