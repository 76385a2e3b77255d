import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build, preview } from 'vite';

export interface Site {
  /** Base URL of the built page, ending in `/`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the Vite project at `root` exactly as it ships (its own vite.config.ts) and serves the
 * build on a free loopback port. A production build is what users get, and it avoids the dev
 * server's dependency re-optimisation reloads.
 */
export async function serveViteBuild(root: string): Promise<Site> {
  const configFile = join(root, 'vite.config.ts');
  const outDir = await mkdtemp(join(tmpdir(), 'edgeloop-site-'));
  await build({ root, configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root, configFile, logLevel: 'error', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') throw new Error(`the preview server for ${root} has no TCP address`);
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/**
 * Builds the Vite project at `root` like {@link serveViteBuild} and returns its files by URL path
 * (`/index.html`, `/assets/…`), for a test server that serves the page from its own origin.
 */
export async function buildViteFiles(root: string): Promise<Map<string, Uint8Array>> {
  const outDir = await mkdtemp(join(tmpdir(), 'edgeloop-site-'));
  try {
    await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const files = new Map<string, Uint8Array>();
    for (const name of await readdir(outDir, { recursive: true, withFileTypes: true })) {
      if (!name.isFile()) continue;
      const path = join(name.parentPath, name.name);
      files.set(`/${relative(outDir, path).split('\\').join('/')}`, new Uint8Array(await readFile(path)));
    }
    return files;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
