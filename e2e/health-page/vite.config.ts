import { defineConfig } from 'vite';

/** The health gate's browser-test page: built and served like an app, talking to a real update server. */
export default defineConfig({
  root: import.meta.dirname,
  resolve: { conditions: ['@edgeloop/source'] },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', emptyOutDir: true },
});
