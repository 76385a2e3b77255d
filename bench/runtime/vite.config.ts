import { defineConfig } from 'vite';

// Cross-origin isolation lets WebAssembly use threads where the page asks; both contenders get it.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** The runtime benchmark and browser-test page: built and served like an app, with COOP/COEP. */
export default defineConfig({
  root: import.meta.dirname,
  resolve: { conditions: ['@edgeloop/source'] },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  preview: { host: '127.0.0.1', headers: isolation },
  server: { host: '127.0.0.1', headers: isolation },
  build: { target: 'es2022', emptyOutDir: true, assetsInlineLimit: 0 },
});
