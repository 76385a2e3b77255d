import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';

export interface DemoSite {
  /** Base URL of the built demo, ending in `/`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the demo with Vite exactly as it ships and serves the build on loopback. A production
 * build is what users get, and it avoids the dev server's dependency re-optimisation reloads.
 */
export async function serveDemo(): Promise<DemoSite> {
  const root = resolve(import.meta.dirname, '../../demo');
  const outDir = await mkdtemp(join(tmpdir(), 'edgeloop-demo-'));
  await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server: PreviewServer = await preview({
    root,
    configFile: join(root, 'vite.config.ts'),
    logLevel: 'error',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('the demo preview server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}
