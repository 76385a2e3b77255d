import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDB, type IDBPDatabase } from 'idb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cryptoRng, defaultTelemetryConfig, emptyEntry, LatencyHistogram } from '@edgeloop/telemetry';
import { fileTelemetryStorage } from '../node/file-telemetry-storage.js';
import { indexedDbTelemetryStorage } from './indexeddb-telemetry-storage.js';
import { mergeDeltas } from './state/merge-deltas.js';
import { sealPeriods } from './state/seal-periods.js';
import { memoryTelemetryStorage, type StoredAccumulator, type TelemetryStorage } from './telemetry-storage.js';

const DAY = 86_400_000;
const config = defaultTelemetryConfig('tc_test');

function delta(day: number, attempts: number): StoredAccumulator {
  const latency = new LatencyHistogram();
  for (let i = 0; i < attempts; i++) latency.record(3);
  const entry = emptyEntry({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null });
  return { start: day * DAY, end: (day + 1) * DAY, entry: { ...entry, attempts, successes: attempts, latency: latency.toJSON() } };
}

const seal = (now: number) => (state: Parameters<typeof sealPeriods>[0]) =>
  sealPeriods(state, { app: 'demo', now, config, epsilonPerDay: 8, maxQueuedReports: 64, rng: cryptoRng(), reportId: () => crypto.randomUUID() });

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

let dbs = 0;
/** Each kind opens "tabs": several storage objects over one shared backing store. */
const kinds: Array<[string, () => Promise<() => TelemetryStorage>]> = [
  ['memory', async () => {
    const shared = memoryTelemetryStorage();
    return () => shared;
  }],
  ['indexeddb', async () => {
    const name = `telemetry-contract-${dbs++}`;
    return () => indexedDbTelemetryStorage({ name });
  }],
  ['file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-telemetry-'));
    dirs.push(dir);
    return () => fileTelemetryStorage(dir);
  }],
];

describe.each(kinds)('%s telemetry storage', (_kind, backing) => {
  it('merges deltas from several tabs at once without losing any', async () => {
    const tab = await backing();
    const tabs = [tab(), tab(), tab()];
    await Promise.all(tabs.flatMap((storage, t) => Array.from({ length: 5 }, (_, i) => storage.transact('demo', (s) => mergeDeltas(s, [delta(100, t * 5 + i + 1)])))));
    const state = await tabs[0]!.read('demo');
    expect(state.accumulators).toHaveLength(1);
    // 1 + 2 + … + 15
    expect(state.accumulators[0]!.entry.attempts).toBe(120);
    tabs.forEach((s) => s.close?.());
  });

  it('seals a period exactly once when several tabs seal it at the same moment', async () => {
    const tab = await backing();
    const tabs = [tab(), tab(), tab(), tab()];
    await tabs[0]!.transact('demo', (s) => mergeDeltas(s, [delta(200, 10)]));
    const outcomes = await Promise.all(tabs.map((storage) => storage.transact('demo', seal(201 * DAY + 1))));
    expect(outcomes.flatMap((o) => o.sealed)).toHaveLength(1);
    const state = await tabs[1]!.read('demo');
    expect(state.queue).toHaveLength(1);
    expect(state.accumulators).toEqual([]);
    expect(state.budget).toMatchObject({ spentMicros: 3_000_000, sealedUntil: 201 * DAY });
    tabs.forEach((s) => s.close?.());
  });

  it('keeps apps apart', async () => {
    const storage = (await backing())();
    await storage.transact('demo', (s) => mergeDeltas(s, [delta(300, 1)]));
    expect((await storage.read('other')).accumulators).toEqual([]);
    storage.close?.();
  });

  it('saves nothing when the change throws', async () => {
    const storage = (await backing())();
    await storage.transact('demo', (s) => mergeDeltas(s, [delta(400, 1)]));
    await expect(
      storage.transact('demo', (s) => {
        mergeDeltas(s, [delta(400, 5)]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await storage.read('demo')).accumulators[0]!.entry.attempts).toBe(1);
    storage.close?.();
  });

  it('refuses a change that awaits, and saves nothing of it', async () => {
    const storage = (await backing())();
    await expect(
      storage.transact('demo', async (s) => {
        mergeDeltas(s, [delta(500, 1)]);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }),
    ).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/must be synchronous/) });
    expect((await storage.read('demo')).accumulators).toEqual([]);
    storage.close?.();
  });
});

/** The telemetry database as runtime versions before device-level privacy created it. */
function version1Schema(db: IDBPDatabase): void {
  const reports = db.createObjectStore('reports', { keyPath: 'seq', autoIncrement: true });
  reports.createIndex('byApp', 'app');
  reports.createIndex('byReportId', 'reportId', { unique: true });
  db.createObjectStore('budget', { keyPath: 'app' });
}

describe('indexeddb telemetry storage', () => {
  it('appendNow writes without reading (for page hide), once open; the next transaction adds the records up', async () => {
    const storage = indexedDbTelemetryStorage({ name: 'telemetry-append' });
    const failed: unknown[] = [];
    expect(storage.appendNow!('demo', [delta(700, 1)], () => failed.push(1))).toBe(false); // not open yet: the caller keeps its counts
    await storage.read('demo');
    expect(storage.appendNow!('demo', [delta(700, 2)], () => failed.push(2))).toBe(true);
    expect(storage.appendNow!('demo', [delta(700, 3)], () => failed.push(3))).toBe(true);
    await storage.transact('demo', (s) => mergeDeltas(s, [delta(700, 4)]));
    const state = await storage.read('demo');
    expect(state.accumulators.map((a) => a.entry.attempts)).toEqual([9]);
    expect(failed).toEqual([]);
    storage.close?.();
  });

  it('fails instead of waiting forever while an older tab holds the database, and works once it is gone', async () => {
    const name = 'telemetry-held';
    const old = await openDB(name, 1, { upgrade: version1Schema });
    const storage = indexedDbTelemetryStorage({ name });
    await expect(storage.read('demo')).rejects.toMatchObject({ code: 'storage', message: expect.stringMatching(/older version/) });
    old.close();
    await vi.waitFor(async () => expect((await storage.read('demo')).queue).toEqual([]));
    storage.close?.();
  });

  it('upgrades from version 1: drops the old budget and schema-2 queue, and never seals a period that started before the upgrade', async () => {
    const name = 'telemetry-v1';
    const old = await openDB(name, 1, { upgrade: version1Schema });
    await old.put('reports', { app: 'demo', reportId: 'r1', body: '{"schema":2}', sealedAt: 0, models: [] });
    await old.put('budget', { app: 'demo', spent: {} });
    old.close();
    const upgradedAt = 600 * DAY + 3_600_000; // an hour into day 600
    const storage = indexedDbTelemetryStorage({ name, now: () => upgradedAt });
    const fresh = await storage.read('demo');
    expect(fresh.queue).toEqual([]);
    expect(fresh.budget.sealedUntil).toBe(upgradedAt);
    // Day 600 began before the upgrade: its counts are never sealed. Day 601 is.
    await storage.transact('demo', (s) => mergeDeltas(s, [delta(600, 3)]));
    expect((await storage.read('demo')).accumulators).toEqual([]);
    await storage.transact('demo', (s) => mergeDeltas(s, [delta(601, 3)]));
    const outcome = await storage.transact('demo', seal(602 * DAY + 1));
    expect(outcome.sealed.map((r) => r.start)).toEqual([601 * DAY]);
    storage.close?.();
  });
});
