// `node --liftoff-only --import tsx --conditions=@edgeloop/source scripts/measure-durability.ts [runs]`:
// what PGlite's fsync costs (docs/server.md, "Durability"). Publishes and telemetry ingest through
// the app (no HTTP, so the database is what is measured), on PGlite in a fresh data directory,
// with fsync on (the default) and off; prints the median of each over `runs` runs (default 3).
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TelemetryConfig } from '@edgeloop/telemetry';
import { createApp, fsBlobStore, openPglite } from '@edgeloop/update-server';
import { bootstrapToken } from '../packages/update-server/src/auth/bootstrap.js';
import { deviceReport, lastPeriod, manifestConfig } from '../packages/update-server/src/testing/telemetry-devices.js';

const runs = Number(process.argv[2] ?? 3);
const model = await readFile(createRequire(import.meta.url).resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx'));
const PUBLISHES = 20;
const REPORTS = 400;
const CONCURRENT = 64;

/** A real schema-3 device report under the config the app's manifest carries. */
function report(config: TelemetryConfig) {
  return JSON.stringify(deviceReport({ config, period: lastPeriod(config, Date.now()), uses: [{ model: 'vad', version: '0', attempts: 3 }] }));
}

async function once(durable: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-durability-'));
  const db = await openPglite(join(dir, 'db'), { durable });
  const edgeloop = createApp({ db, blobs: fsBlobStore(join(dir, 'artifacts')), log: () => {}, telemetry: { rateLimit: false, sourceLimit: false } });
  await edgeloop.ready;
  const { token } = await bootstrapToken(db, { app: 'demo' });
  const publish = (version: number) =>
    edgeloop.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, {
      method: 'POST',
      body: model,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
    });
  let config: TelemetryConfig | undefined;
  const ingest = async () => {
    config ??= manifestConfig(await (await edgeloop.app.request('/v1/apps/demo/manifest')).json());
    const res = await edgeloop.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: report(config), headers: { 'Content-Type': 'application/json' } });
    if (res.status !== 202) throw new Error(`telemetry answered ${res.status}: ${await res.text()}`);
  };
  try {
    if ((await publish(0)).status !== 201) throw new Error('publish failed');
    let t = performance.now();
    for (let v = 1; v <= PUBLISHES; v++) if ((await publish(v)).status !== 201) throw new Error('publish failed');
    const publishesPerS = PUBLISHES / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < REPORTS; i++) await ingest(); // one in flight: a transaction per report
    const sequentialPerS = REPORTS / ((performance.now() - t) / 1000);
    t = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENT }, async () => { // group commit batches these
      while (next++ < REPORTS * 4) await ingest();
    }));
    const concurrentPerS = (REPORTS * 4) / ((performance.now() - t) / 1000);
    return { publishesPerS, sequentialPerS, concurrentPerS };
  } finally {
    await edgeloop.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const results: Record<string, Array<Awaited<ReturnType<typeof once>>>> = { 'fsync on': [], 'fsync off': [] };
for (let i = 0; i < runs; i++) {
  // Interleaved, so a change in the machine's load hits both alike.
  results['fsync on']!.push(await once(true));
  results['fsync off']!.push(await once(false));
}
console.table(
  Object.entries(results).map(([mode, list]) => ({
    mode,
    'publishes/s': Math.round(median(list.map((r) => r.publishesPerS)) * 10) / 10,
    'reports/s, 1 in flight': Math.round(median(list.map((r) => r.sequentialPerS))),
    [`reports/s, ${CONCURRENT} in flight`]: Math.round(median(list.map((r) => r.concurrentPerS))),
    runs: list.length,
  })),
);
for (const [mode, list] of Object.entries(results)) {
  console.log(mode, list.map((r) => `${r.publishesPerS.toFixed(1)} publishes/s, ${Math.round(r.sequentialPerS)} + ${Math.round(r.concurrentPerS)} reports/s`).join(' | '));
}
