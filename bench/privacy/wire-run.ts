/**
 * A real Chromium runs a page with @edgeloop/runtime against a real update server, through a
 * capturing proxy that also serves the page (one origin, with a cookie set on it). The server's
 * telemetry config has a period of a few seconds, so each browser context — one device with its own
 * IndexedDB — records a period, seals it into a report and sends it. Every request is captured at
 * the wire and by Playwright, and checked by {@link checkWire}.
 */
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../e2e/support/chromium.js';
import { buildViteFiles } from '../../e2e/support/vite-site.js';
import { PROFILE_FEATURES, startAttackServer } from './attack-server.js';
import { startCapturingProxy, type WireRequest } from './capturing-proxy.js';
import { checkWire, type WireTruth } from './wire-checks.js';
import './wire-page/page-api.js';

/** Long enough to load and run a hundred inferences, short enough to wait for. */
export const WIRE_PERIOD_MS = 4_000;

export interface WireRun {
  violations: string[];
  requests: WireRequest[];
  /** Telemetry reports the server admitted (one per device is expected). */
  reports: number;
}

export async function wireRun(options: { devices: number; log?: (line: string) => void }): Promise<WireRun> {
  const log = options.log ?? (() => {});
  const [files, server, browser] = await Promise.all([
    buildViteFiles(resolve(import.meta.dirname, 'wire-page')),
    startAttackServer({ clock: 'real', telemetry: { config: { periodMs: WIRE_PERIOD_MS } } }),
    launchChromium(),
  ]);
  const proxy = await startCapturingProxy(server.url, files);
  const seen: Array<{ method: string; path: string }> = [];
  const truth: WireTruth = { successes: 77, failures: 19, declared: [...PROFILE_FEATURES.declared], profile: server.profile, devices: options.devices };
  try {
    const pages = [];
    for (let d = 0; d < options.devices; d++) {
      const context = await browser.newContext();
      await context.addCookies([{ name: 'session', value: `secret-${d}`, url: proxy.url }]);
      const page = await context.newPage();
      page.on('request', (request) => {
        const url = new URL(request.url());
        seen.push({ method: request.method(), path: `${url.pathname}${url.search}` });
      });
      await page.goto(`${proxy.url}index.html`);
      await page.waitForFunction(() => document.body.dataset.ready === '1');
      await page.evaluate(([key, declared]) => window.edgeloopWire.start(key, declared), [server.publicKey, truth.declared] as const);
      await page.evaluate((n) => window.edgeloopWire.run(n, false), truth.successes);
      await page.evaluate((n) => window.edgeloopWire.run(n, true), truth.failures);
      pages.push(page);
    }
    log(`${options.devices} devices recorded ${truth.successes + truth.failures} inferences each; waiting for their ${WIRE_PERIOD_MS / 1000} s periods to end`);
    const admitted = () => proxy.captured.filter((r) => r.method === 'POST' && r.path.endsWith('/telemetry') && r.status === 202).length;
    const deadline = Date.now() + 60_000;
    while (admitted() < options.devices && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      for (const page of pages) await page.evaluate(() => window.edgeloopWire.flush());
    }
    // Page hide sends with keepalive: close the pages and contexts, and let those requests land too.
    for (const page of pages) await page.context().close();
    await new Promise((r) => setTimeout(r, 500));
    const reports = admitted();
    if (reports < options.devices) {
      const refused = proxy.captured.filter((r) => r.path.endsWith('/telemetry') && r.status !== 202).map((r) => `${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
      throw new Error(`only ${reports} of ${options.devices} devices' reports reached the server within 60 s${refused.length ? `; refused: ${refused.join(' | ')}` : ''}`);
    }
    return { violations: checkWire(proxy.captured, seen, truth), requests: [...proxy.captured], reports };
  } finally {
    await closeQuietly(browser);
    await proxy.close();
    await server.dispose();
  }
}

async function closeQuietly(browser: Browser): Promise<void> {
  await browser.close();
}
