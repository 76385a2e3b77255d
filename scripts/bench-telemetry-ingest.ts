/**
 * Telemetry ingest benchmark: `npx tsx --conditions=@edgeloop/source scripts/bench-telemetry-ingest.ts [--quick]`.
 *
 * `ingest_ratio_vs_hono_post`: schema-3 device reports (one entry with a drift summary of a
 * 16-feature profile, sealed by `sealReport` through the server tests' `deviceReport`, every request
 * with a fresh report id) ingested AND persisted per second by the update server — request rate
 * limit off, shape check, admission against the signed config and the registry, group commit into
 * the arrival hour's window rows in PGlite on disk — against a bare Hono POST handler that parses
 * the same JSON and answers 204. Both on loopback in this process; the load generator (autocannon)
 * runs in its own process, bounded in time and in requests. After the run every 2xx is checked to
 * be in the database. Merges its metric into bench-results/telemetry.json.
 *
 * Also measures, for the record, the runtime collector's per-inference cost with 16 features.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp, fsBlobStore, openPglite, seedIfEmpty } from '../packages/update-server/src/index.js';
import { ReferenceProfile, seededRng, type TelemetryConfig, type TelemetryReport } from '../packages/telemetry/src/index.js';
import { deviceReport, lastPeriod } from '../packages/update-server/src/testing/telemetry-devices.js';
import { benchCollector } from './bench-collector.js';
import { writeBenchResults, type BenchMetric } from './bench-telemetry.js';

const quick = process.argv.includes('--quick');
const seconds = quick ? 3 : 10;
const maxRequests = quick ? 150_000 : 400_000;
const connections = 64;
const FEATURES = 16;
const PLACEHOLDER = '00000000-0000-4000-8000-000000000000';
const require = createRequire(import.meta.url);
const run = promisify(execFile);

interface CannonResult {
  duration: number;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p99: number };
}

/** The load generator, in a child process: POSTs `template` with a fresh report id per request. */
const LOAD_SCRIPT = `
import { readFileSync } from 'node:fs';
import autocannon from ${JSON.stringify(pathToFileURL(require.resolve('autocannon')).href)};
const [url, file, seconds, maxRequests, connections] = process.argv.slice(2);
const template = readFileSync(file, 'utf8');
const run = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
let n = 0;
const result = await autocannon({
  url, method: 'POST', connections: Number(connections), duration: Number(seconds), maxOverallRequests: Number(maxRequests),
  headers: { 'content-type': 'application/json' },
  requests: [{ setupRequest(req) { req.body = template.replace(${JSON.stringify(PLACEHOLDER)}, run + '-0000-4000-8000-' + (n++).toString(16).padStart(12, '0')); return req; } }],
});
process.stdout.write(JSON.stringify(result));
`;

async function cannon(dir: string, url: string, templateFile: string, options: { seconds: number; maxRequests: number }): Promise<CannonResult> {
  const script = join(dir, 'load.mjs');
  await writeFile(script, LOAD_SCRIPT);
  const { stdout } = await run(process.execPath, [script, url, templateFile, String(options.seconds), String(options.maxRequests), String(connections)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: (options.seconds + 60) * 1000,
  });
  const result = JSON.parse(stdout) as CannonResult;
  if (result.errors > 0 || result.timeouts > 0) throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts`);
  return result;
}

function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

function normal(rng: { next(): number }): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** One device's report for the day that just ended: 50 inferences of vad 5.0.0 on WASM, 16 declared features. */
function sampleReport(profile: ReferenceProfile, config: TelemetryConfig): TelemetryReport {
  const rng = seededRng(7);
  const rows = Array.from({ length: 50 }, () => Array.from({ length: FEATURES }, () => normal(rng)));
  return deviceReport({
    app: 'demo',
    config,
    period: lastPeriod(config, Date.now()),
    uses: [{ model: 'vad', version: '5.0.0', backend: 'wasm', attempts: 50, latencyMs: 2.5, features: { profile, rows } }],
    reportId: PLACEHOLDER,
    rng,
  });
}

const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-ingest-'));
const db = await openPglite(join(dir, 'db'));
const edgeloop = createApp({
  db,
  blobs: fsBlobStore(join(dir, 'artifacts')),
  log: () => {},
  // No request rate limit and no per-source admission limit: every request comes from one
  // loopback address. The bounds on bodies, requests in flight and the write queue stay on.
  telemetry: { rateLimit: false, sourceLimit: false, maxInFlight: 4096, batch: { maxReports: 256, maxQueued: 16_384 } },
});
await edgeloop.ready;
await seedIfEmpty(edgeloop.registry, () => {});
const reference = seededRng(1);
const profile = ReferenceProfile.fromSamples({
  id: 'vad@5/bench',
  numeric: Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, values: Array.from({ length: 5000 }, () => normal(reference)) })),
});
await edgeloop.profiles.put({ app: 'demo', model: 'vad', version: '5.0.0' }, profile, { actor: 'bench', requestId: null });
const { config } = await edgeloop.configs.ensure('demo');

const bare = new Hono().post('/telemetry', async (c) => {
  await c.req.json();
  return c.body(null, 204);
});
const [ingestServer, bareServer] = await Promise.all([listen(edgeloop.app.fetch), listen(bare.fetch)]);
const started = Date.now();
try {
  const templateFile = join(dir, 'report.json');
  const body = JSON.stringify(sampleReport(profile, config));
  await writeFile(templateFile, body);
  const ingestUrl = `${ingestServer.url}/v1/apps/demo/telemetry`;
  const bareUrl = `${bareServer.url}/telemetry`;

  const warm = { seconds: 2, maxRequests: 5000 };
  await cannon(dir, bareUrl, templateFile, warm);
  await cannon(dir, ingestUrl, templateFile, warm);
  await edgeloop.ingest.drain();
  const before = Number((await db.query<{ n: number | string }>('select count(*) as n from telemetry_reports'))[0]!.n);

  const bareRun = await cannon(dir, bareUrl, templateFile, { seconds, maxRequests });
  const ingestRun = await cannon(dir, ingestUrl, templateFile, { seconds, maxRequests });
  await edgeloop.ingest.drain();
  if (ingestRun.non2xx > 0) throw new Error(`ingest answered ${ingestRun.non2xx} non-2xx responses; the measurement would not be of ingest`);
  const after = Number((await db.query<{ n: number | string }>('select count(*) as n from telemetry_reports'))[0]!.n);
  const [windows] = await db.query<{ reports: number | string }>(
    "select sum(reports) as reports from telemetry_windows where app = 'demo' and model = 'vad' and version = '5.0.0'",
  );
  // Every remembered report id was merged into its arrival hour's window row exactly once.
  if (Number(windows?.reports ?? 0) !== after) throw new Error(`${after} report ids stored but ${windows?.reports} reports in the window rows`);
  // Requests in flight when autocannon stops are persisted but their answers not counted: at most one per connection.
  const persisted = after - before;
  if (persisted < ingestRun['2xx'] || persisted > ingestRun['2xx'] + connections) {
    throw new Error(`${ingestRun['2xx']} reports acknowledged but ${persisted} persisted`);
  }

  const bareRps = bareRun['2xx'] / bareRun.duration;
  const ingestRps = ingestRun['2xx'] / ingestRun.duration;
  const collector = await benchCollector(quick);
  const metrics: BenchMetric[] = [
    { name: 'ingest_ratio_vs_hono_post', value: Math.round((ingestRps / bareRps) * 1000) / 1000, unit: 'ratio', goal: '>= 0.5' },
  ];
  const ingest = {
    mode: quick ? 'quick' : 'full',
    connections,
    seconds,
    maxRequests,
    reportBytes: body.length,
    features: FEATURES,
    bareHonoPostRps: Math.round(bareRps),
    ingestPersistedRps: Math.round(ingestRps),
    ingestP50Ms: ingestRun.latency.p50,
    ingestP99Ms: ingestRun.latency.p99,
    reportsAcknowledged: ingestRun['2xx'],
    reportsPersisted: persisted,
    reportsInWindowsTotal: Number(windows?.reports ?? 0),
    report: 'schema 3, one entry (vad 5.0.0, wasm, no cohort) with a drift summary of a 16-feature profile, default config',
    collectorObserveNsPerInference16Features: collector.nsPerInference,
    collectorGarbageCollectionsDuringObserves: collector.garbageCollections,
    database: 'PGlite on disk, same process as the server',
    node: process.version,
    seconds_total: (Date.now() - started) / 1000,
  };
  writeBenchResults({ metrics, info: { ingest } });
  console.log(`telemetry ingest benchmark${quick ? ' (quick)' : ''}: ${connections} connections, ≤ ${seconds} s and ≤ ${maxRequests} requests per run, loopback`);
  console.table(metrics.map((m) => ({ metric: m.name, value: m.value, unit: m.unit, goal: m.goal })));
  console.table(ingest);
} finally {
  await new Promise((resolve) => ingestServer.server.close(resolve));
  await new Promise((resolve) => bareServer.server.close(resolve));
  await edgeloop.close();
  await db.close();
  await rm(dir, { recursive: true, force: true });
}
