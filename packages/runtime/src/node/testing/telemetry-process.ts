/**
 * A separate process for the file telemetry storage tests: `merge <dir> <day> <count>` merges
 * `count` one-attempt deltas one transaction at a time, `seal <dir> <now>` seals ended periods,
 * `hold <dir>` takes the app's lock and never lets go (until it is killed). Prints one JSON line.
 */
import { join } from 'node:path';
import { cryptoRng, defaultTelemetryConfig, emptyEntry, LatencyHistogram } from '@edgeloop/telemetry';
import { mergeDeltas } from '../../telemetry/state/merge-deltas.js';
import { sealPeriods } from '../../telemetry/state/seal-periods.js';
import { fileLock } from '../file-lock.js';
import { fileTelemetryStorage } from '../file-telemetry-storage.js';

const DAY = 86_400_000;
const [mode, dir, a, b] = process.argv.slice(2);
const storage = fileTelemetryStorage(dir!);

if (mode === 'merge') {
  const latency = new LatencyHistogram();
  latency.record(2);
  const entry = { ...emptyEntry({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null }), attempts: 1, successes: 1, latency: latency.toJSON() };
  const day = Number(a);
  for (let i = 0; i < Number(b); i++) await storage.transact('demo', (state) => mergeDeltas(state, [{ start: day * DAY, end: (day + 1) * DAY, entry }]));
  console.log(JSON.stringify({ merged: Number(b) }));
} else if (mode === 'seal') {
  const outcome = await storage.transact('demo', (state) =>
    sealPeriods(state, { app: 'demo', now: Number(a), config: defaultTelemetryConfig('tc_test'), epsilonPerDay: 8, maxQueuedReports: 64, rng: cryptoRng(), reportId: () => crypto.randomUUID() }),
  );
  console.log(JSON.stringify(outcome));
} else if (mode === 'hold') {
  await fileLock(join(dir!, 'demo.telemetry.lock'))(() => {
    console.log(JSON.stringify({ held: true }));
    setInterval(() => undefined, 60_000); // stay alive, holding the lock, until killed
    return new Promise<never>(() => undefined);
  });
} else {
  throw new Error(`unknown mode ${mode}`);
}
