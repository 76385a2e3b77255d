import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
};

/**
 * The admin API reference must load nothing from anywhere but the server itself: with every
 * request to any other host blocked (and recorded), the page still renders the API.
 */
describe('the admin API reference in Chromium with the network off', () => {
  let updates: TestUpdateServer;
  let browser: Browser;
  let context: BrowserContext;
  const elsewhere: string[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    [updates, browser] = await Promise.all([startTestServer(), launchChromium()]);
    context = await browser.newContext();
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      elsewhere.push(url);
      return route.abort('internetdisconnected');
    });
  }, 120_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await updates?.dispose();
  });

  it('renders every operation from the server alone', async () => {
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(error.message));
    const res = await page.goto(new URL('v1/admin/reference', updates.server.url).href);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.getByText('Publish a new version', { exact: false }).first().waitFor({ timeout: 60_000 });
    const operations = await page.locator('.opblock-summary').count();
    const documented = (await (await fetch(new URL('v1/admin/openapi.json', updates.server.url))).json()) as { paths: Record<string, object> };
    const expected = Object.values(documented.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(operations).toBe(expected);
    expect(elsewhere).toEqual([]);
    expect(violations).toEqual([]);
  });
});
