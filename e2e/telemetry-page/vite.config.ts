import { defineConfig } from 'vite';

/** The telemetry browser-test page: built like an app and served by the test's fake update server (same origin). */
export default defineConfig({
  root: import.meta.dirname,
  resolve: { conditions: ['@edgeloop/source'] },
  build: { target: 'es2022', emptyOutDir: true },
});
