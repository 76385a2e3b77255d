import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  // Workspace packages resolve to their TypeScript sources: no build step between an edit and the page.
  resolve: { conditions: ['@edgeloop/source'] },
  optimizeDeps: {
    // onnxruntime-web finds its .wasm next to its own module (new URL(..., import.meta.url));
    // pre-bundling would move the module away from the file.
    exclude: ['onnxruntime-web'],
    // Found only once the worker loads: listing them avoids a full page reload on the first visit.
    include: ['comlink', 'idb', 'zod'],
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
