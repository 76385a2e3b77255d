import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { PrivacyBudget } from '@edgeloop/telemetry';
import { indexedDbTelemetryStorage } from './indexeddb-telemetry-storage.js';
import { memoryTelemetryStorage, type QueuedReport, type TelemetryStorage } from './telemetry-storage.js';

const report = (n: number): QueuedReport => ({
  reportId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  body: `{"n":${n}}`,
  sealedAt: n,
  models: [{ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: n, errors: 0 }],
});

let dbs = 0;
const adapters: Array<[string, (app?: string, name?: string) => TelemetryStorage]> = [
  ['memory', () => memoryTelemetryStorage()],
  ['indexeddb', (app = 'demo', name = `telemetry-test-${dbs++}`) => indexedDbTelemetryStorage({ app, name })],
];

describe.each(adapters)('%s telemetry storage', (_name, open) => {
  it('keeps at most maxReports, dropping the oldest, and hands them out oldest first', async () => {
    const storage = open();
    const dropped: string[] = [];
    for (let n = 1; n <= 5; n++) dropped.push(...(await storage.enqueue(report(n), 3)));
    expect(dropped).toEqual([report(1).reportId, report(2).reportId]);
    expect((await storage.peek(10)).map((r) => r.sealedAt)).toEqual([3, 4, 5]);
    expect(await storage.peek(2)).toEqual([report(3), report(4)]);
    await storage.remove([report(4).reportId, 'not-there']);
    expect((await storage.peek(10)).map((r) => r.sealedAt)).toEqual([3, 5]);
    storage.close?.();
  });

  it('persists the privacy budget record', async () => {
    const storage = open();
    const budget = new PrivacyBudget({ store: storage.budget, now: () => 0 });
    expect((await budget.charge('vad@5/0', 4)).granted).toBe(true);
    const again = new PrivacyBudget({ store: storage.budget, now: () => 0 });
    expect(await again.charge('vad@5/0', 4)).toMatchObject({ granted: false, reason: 'already_reported' });
    expect(await again.state()).toMatchObject({ spent: 4, remaining: 92 });
    storage.close?.();
  });
});

describe('indexeddb telemetry storage', () => {
  it('keeps apps apart and lets two tabs of one app queue without overwriting each other', async () => {
    const name = 'telemetry-shared';
    const tabA = indexedDbTelemetryStorage({ app: 'demo', name });
    const tabB = indexedDbTelemetryStorage({ app: 'demo', name });
    const other = indexedDbTelemetryStorage({ app: 'other', name });
    await Promise.all([tabA.enqueue(report(1), 10), tabB.enqueue(report(2), 10), other.enqueue(report(3), 10)]);
    expect((await tabA.peek(10)).map((r) => r.sealedAt).sort()).toEqual([1, 2]);
    expect((await other.peek(10)).map((r) => r.sealedAt)).toEqual([3]);
    [tabA, tabB, other].forEach((s) => s.close?.());
  });
});
