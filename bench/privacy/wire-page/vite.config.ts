import { defineConfig } from 'vite';

/** The wire-capture page: built like an app and served from the capturing proxy, same origin as the update server. */
export default defineConfig({
  root: import.meta.dirname,
  resolve: { conditions: ['@edgeloop/source'] },
  build: { target: 'es2022', emptyOutDir: true },
});
