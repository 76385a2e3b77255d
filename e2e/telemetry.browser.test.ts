import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, parseReport, ReferenceProfile, type TelemetryReport } from '@edgeloop/telemetry';
import { FakeRepository } from '../packages/runtime/src/testing/fake-repository.js';
import { launchChromium } from './support/chromium.js';
import { buildViteFiles } from './support/vite-site.js';
import './telemetry-page/page-api.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * Device-level telemetry in a real Chromium: tabs of one origin share one IndexedDB, and the
 * period's counts, the privacy budget and the queue must hold across tabs, reloads and clock
 * changes. The page (e2e/telemetry-page) runs the real runtime against a fake update server on
 * loopback that serves the page itself, so requests are same-origin and would carry cookies and a
 * Referer unless the runtime leaves them out.
 */
describe('telemetry in Chromium', () => {
  let repo: FakeRepository;
  let browser: Browser;
  let context: BrowserContext;

  const open = async (): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${repo.url}index.html`);
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await page.evaluate((key) => window.edgeloopTelemetry.start(key), repo.key.publicKey);
    return page;
  };
  const reports = (): TelemetryReport[] =>
    repo
      .requestsTo('/telemetry')
      .flatMap((r) => {
        const parsed: unknown = JSON.parse(r.body);
        return Array.isArray(parsed) ? parsed : [parsed];
      })
      .map((r) => parseReport(r));
  const budget = (page: Page) => page.evaluate(() => window.edgeloopTelemetry.budget());

  beforeAll(async () => {
    const [files, launched] = await Promise.all([buildViteFiles(resolve(import.meta.dirname, 'telemetry-page')), launchChromium(), ]);
    browser = launched;
    repo = await FakeRepository.create();
    for (const [path, bytes] of files) repo.files.set(path, bytes);
    const profile = ReferenceProfile.fromSamples({ id: 'vad@5/ref1', numeric: [{ name: 'x.mean', values: Array.from({ length: 100 }, (_, i) => i / 100) }] });
    const profileBytes = new TextEncoder().encode(JSON.stringify(profile.toJSON()));
    repo.files.set('/v1/profiles/vad-5-ref1', profileBytes);
    const release = repo.publish('vad', '5.0.0', new TextEncoder().encode('model five'));
    repo.bump({
      models: { vad: { ...release, profile: { id: profile.id, sha256: createHash('sha256').update(profileBytes).digest('hex'), length: profileBytes.byteLength, url: 'v1/profiles/vad-5-ref1' } } },
      telemetry: defaultTelemetryConfig('tc_browser') as unknown as Record<string, unknown>,
    });
    await repo.start();
    context = await browser.newContext();
    await context.addCookies([{ name: 'session', value: 'secret', url: repo.url }]);
  }, 240_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await repo?.stop();
  });

  it('two tabs record into one period and seal it once; a reload keeps the period; moving the clock back grants nothing', async () => {
    const [a, b] = [await open(), await open()];
    await Promise.all([a.evaluate(() => window.edgeloopTelemetry.run(5)), b.evaluate(() => window.edgeloopTelemetry.run(7))]);
    await Promise.all([a, b].map((tab) => tab.evaluate(() => window.edgeloopTelemetry.flush())));
    // Each tab sees both tabs' counts: they are in one IndexedDB.
    const recording = (await a.evaluate(() => window.edgeloopTelemetry.pending())).entries;
    expect(recording).toEqual([expect.objectContaining({ model: 'vad', state: 'recording', inferences: 12 })]);
    // The device's period began when it first ran the release (a device period, not a calendar day).
    const start = recording[0]!.start;
    expect(start).toBeGreaterThan(Date.now() - 5 * 60_000);
    expect(start).toBeLessThanOrEqual(Date.now());

    // A day later, both tabs flush at the same moment: one report for the period, the budget paid once.
    await Promise.all([a, b].map((tab) => tab.evaluate((ms) => window.edgeloopTelemetry.setClockOffset(ms), DAY)));
    await Promise.all([a, b].map((tab) => tab.evaluate(() => window.edgeloopTelemetry.flush())));
    const sealed = reports();
    // One request: with Web Locks, one tab sends while the other finds the queue taken care of.
    expect(sealed).toHaveLength(1);
    // `period` names the hour the period began.
    expect(sealed[0]).toMatchObject({ app: 'demo', config: 'tc_browser', period: Math.floor(start / HOUR), models: [{ model: 'vad', version: '5.0.0', backend: 'wasm' }] });
    const paid = await budget(a);
    expect(paid).toMatchObject({ spentMicros: Math.round(sealed[0]!.epsilon * 1e6), sealedUntil: start + DAY });

    // The next period's counts survive a reload: page hide stores them.
    await a.evaluate(() => window.edgeloopTelemetry.run(3));
    await a.reload();
    await a.waitForFunction(() => document.body.dataset.ready === '1');
    await a.evaluate((key) => window.edgeloopTelemetry.start(key), repo.key.publicKey);
    await a.evaluate((ms) => window.edgeloopTelemetry.setClockOffset(ms), DAY);
    const afterReload = (await a.evaluate(() => window.edgeloopTelemetry.pending())).entries;
    // Periods run back to back: the next one began where the sealed one ended.
    expect(afterReload).toEqual([expect.objectContaining({ state: 'recording', inferences: 3, start: start + DAY })]);

    // The clock goes back into the sealed period: what is recorded there is dropped, nothing is sealed or paid again.
    await a.evaluate(() => window.edgeloopTelemetry.setClockOffset(0));
    await a.evaluate(() => window.edgeloopTelemetry.flush());
    await a.evaluate(() => window.edgeloopTelemetry.run(4));
    const back = await a.evaluate(() => window.edgeloopTelemetry.flush());
    expect(back).toMatchObject({ sent: 0, dropped: 1 });
    expect(new Set(reports().map((r) => r.reportId)).size).toBe(1);
    expect(await budget(a)).toEqual(paid);

    // What the runtime asked for carried no cookie and no Referer, though the page is same-origin and has a cookie.
    const runtimeRequests = repo.requests.filter((r) => /\/(manifest|artifacts|profiles|telemetry)/.test(r.path));
    expect(runtimeRequests.map((r) => r.path)).toEqual(expect.arrayContaining(['/v1/apps/demo/manifest', '/v1/profiles/vad-5-ref1', '/v1/apps/demo/telemetry']));
    expect(runtimeRequests.some((r) => r.path.startsWith('/v1/artifacts/'))).toBe(true);
    for (const request of runtimeRequests) {
      expect(request.headers.cookie, request.path).toBeUndefined();
      expect(request.headers.referer, request.path).toBeUndefined();
    }
    const page = repo.requests.find((r) => r.path === '/index.html')!;
    expect(page.headers.cookie).toBe('session=secret'); // the browser would have sent it
    expect(repo.requestsTo('/telemetry')[0]!.headers['content-type']).toBe('text/plain;charset=UTF-8');
  });
});
