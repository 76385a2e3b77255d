import { defineConfig } from 'vitest/config';

/**
 * Root config: vitest for the whole repository. The demo has its own vite config (demo/vite.config.ts).
 * The `@edgeloop/source` condition makes workspace packages resolve to their TypeScript sources,
 * so tests never run against a stale build.
 */
export default defineConfig({
  resolve: { conditions: ['@edgeloop/source'] },
  ssr: { resolve: { conditions: ['@edgeloop/source'] } },
  test: {
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest-report.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['packages/*/src/**/*.test.ts', 'demo/src/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 30_000,
          // Opening PGlite and migrating takes 1–5 s on a quiet 2-core machine, far more when it is busy.
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          // Browser tests share the 2-core machine: one file at a time keeps them deterministic.
          fileParallelism: false,
        },
      },
    ],
  },
});
