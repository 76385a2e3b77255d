import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import type { DeliveryPage } from '../../bench/delivery/page-api.js';
import { serveViteBuild, type Site } from './vite-site.js';

export type DeliverySite = Site;

/** bench/delivery, built as an app would ship it and served on loopback. */
export function serveDeliveryPage(): Promise<DeliverySite> {
  return serveViteBuild(resolve(import.meta.dirname, '../../bench/delivery'));
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
