import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import '../health-page/page-api.js';
import { serveViteBuild, type Site } from './vite-site.js';

/** e2e/health-page, built as an app would ship it and served on loopback. */
export function serveHealthPage(): Promise<Site> {
  return serveViteBuild(resolve(import.meta.dirname, '../health-page'));
}

export async function openHealthPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}
