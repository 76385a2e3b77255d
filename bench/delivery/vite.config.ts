import { defineConfig } from 'vite';

/** The delivery benchmark and browser-test page: built and served like an app. */
export default defineConfig({
  root: import.meta.dirname,
  resolve: { conditions: ['@edgeloop/source'] },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', emptyOutDir: true },
});
