import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview } from 'vite';
import type { DeliveryPage } from '../../bench/delivery/page-api.js';

export interface DeliverySite {
  url: string;
  close(): Promise<void>;
}

/** Builds bench/delivery with Vite as an app would ship it and serves it on loopback. */
export async function serveDeliveryPage(): Promise<DeliverySite> {
  const root = resolve(import.meta.dirname, '../../bench/delivery');
  const configFile = join(root, 'vite.config.ts');
  const outDir = await mkdtemp(join(tmpdir(), 'edgeloop-delivery-'));
  await build({ root, configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root, configFile, logLevel: 'error', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('the delivery preview server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

export async function openDeliveryPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}

declare global {
  interface Window {
    edgeloopDelivery: DeliveryPage;
  }
}
