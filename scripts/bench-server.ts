// `npm run bench:server [-- --quick] [-- --only cold-start]`: the update server's hot paths against
// bare Hono baselines, on loopback, with autocannon in its own process (so the load generator does
// not share the server's event loop), and the cold start of `edgeloop serve` on an empty data
// directory (scripts/bench-cold-start.ts). Writes bench-results/server.json and prints a table;
// `--only cold-start` measures only the cold start and updates just its metrics in that file.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { startServer } from '@edgeloop/update-server';
import { measureColdStart } from './bench-cold-start.js';

const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && only !== 'cold-start') throw new Error(`--only takes "cold-start", got ${JSON.stringify(only)}`);
const coldStartRuns = quick ? 3 : 5;
const seconds = quick ? 3 : 10;
const polls = quick ? 20_000 : 200_000;
const connections = 64;
const require = createRequire(import.meta.url);
const autocannonBin = require.resolve('autocannon/autocannon.js');
const run = promisify(execFile);

interface Result {
  requests: { average: number };
  latency: { p99: number };
  throughput: { average: number };
  non2xx: number;
  errors: number;
  '2xx': number;
}

/** One autocannon run in a child process; its JSON report comes back on stdout. */
async function cannon(url: string, options: { headers?: Record<string, string>; amount?: number; connections?: number } = {}): Promise<Result> {
  const args = [autocannonBin, '--json', '-c', String(options.connections ?? connections)];
  if (options.amount) args.push('-a', String(options.amount));
  else args.push('-d', String(seconds));
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  const result = JSON.parse(stdout) as Result;
  if (result.errors > 0) throw new Error(`${url}: ${result.errors} connection errors`);
  return result;
}

function listen(app: Hono): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => {
  gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
};

// First, before anything else runs on the machine: a cold start is what a loaded machine distorts most.
const cold = await measureColdStart(coldStartRuns);
const round = <T extends { value: number }>(m: T) => ({ ...m, value: Math.round(m.value * 1000) / 1000 });
if (only === 'cold-start') {
  const previous = JSON.parse(await readFile('bench-results/server.json', 'utf8').catch(() => '{"metrics":[],"context":{}}')) as {
    metrics: Array<{ name: string }>;
    context: Record<string, unknown>;
  };
  const metrics = [...previous.metrics.filter((m) => !m.name.startsWith('cold_start_')), ...cold.metrics.map(round)];
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/server.json', `${JSON.stringify({ suite: 'server', metrics, context: { ...previous.context, coldStart: cold.context } }, null, 2)}\n`);
  console.log(`server benchmark: cold start only (${coldStartRuns} runs)`);
  console.table(cold.metrics.map(round).map((m) => ({ metric: m.name, value: m.value, unit: m.unit, goal: m.goal })));
  console.table(cold.context);
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-'));
const edgeloop = await startServer({ dataDir: join(dir, 'data'), port: 0, log: () => {} });
const hello = new Hono().get('/', (c) => c.text('Hello Hono!'));
const modelPath = require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx');
await mkdir(join(dir, 'static'));
await copyFile(modelPath, join(dir, 'static', 'model.onnx'));
const stat = new Hono().use('/*', serveStatic({ root: relative(process.cwd(), join(dir, 'static')) }));
const [helloServer, staticServer] = await Promise.all([listen(hello), listen(stat)]);

try {
  const manifestUrl = new URL('v1/apps/demo/manifest', edgeloop.url).href;
  const first = await fetch(manifestUrl);
  const etag = first.headers.get('etag')!;
  const { signed } = (await first.json()) as { signed: { models: { vad: { files: Array<{ url: string }> } } } };
  const artifactUrl = new URL(signed.models.vad.files[0]!.url, edgeloop.url).href;

  await cannon(manifestUrl, { headers: { 'If-None-Match': etag }, amount: 5000 }); // warm-up (JIT, sockets)
  const helloRun = await cannon(`${helloServer.url}/`);
  const pollRun = await cannon(manifestUrl, { headers: { 'If-None-Match': etag } });
  if (pollRun.non2xx !== pollRun['2xx'] + pollRun.non2xx || pollRun['2xx'] !== 0) {
    // Every poll must be a 304 (autocannon counts 3xx as non-2xx): anything else is not what we measure.
    throw new Error(`manifest polls: ${pollRun['2xx']} answered 2xx instead of 304`);
  }
  const staticRun = await cannon(`${staticServer.url}/model.onnx`, { connections: 8 });
  const artifactRun = await cannon(artifactUrl, { connections: 8 });

  const rssBefore = rssMb();
  await cannon(manifestUrl, { headers: { 'If-None-Match': etag }, amount: polls });
  const rssAfter = rssMb();

  const metrics = [
    { name: 'manifest_poll_ratio_vs_hono_hello', value: pollRun.requests.average / helloRun.requests.average, unit: 'ratio', goal: '>= 0.8' },
    { name: 'manifest_poll_p99_ms', value: pollRun.latency.p99, unit: 'ms', goal: '<= 20' },
    { name: 'artifact_throughput_ratio_vs_static', value: artifactRun.throughput.average / staticRun.throughput.average, unit: 'ratio', goal: '>= 0.9' },
    { name: 'rss_growth_mb_200k_polls', value: rssAfter - rssBefore, unit: 'MB', goal: '<= 50' },
    ...cold.metrics,
  ].map(round);
  const context = {
    quick,
    connections,
    seconds,
    polls,
    gcExposed: gc !== undefined,
    helloRps: Math.round(helloRun.requests.average),
    manifest304Rps: Math.round(pollRun.requests.average),
    staticMBps: Math.round(staticRun.throughput.average / 1e6),
    artifactMBps: Math.round(artifactRun.throughput.average / 1e6),
    node: process.version,
    coldStart: cold.context,
  };
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/server.json', `${JSON.stringify({ suite: 'server', metrics, context }, null, 2)}\n`);
  console.log(`server benchmark${quick ? ' (quick)' : ''}: ${connections} connections, ${seconds} s per run, loopback`);
  console.table(metrics.map((m) => ({ metric: m.name, value: m.value, unit: m.unit, goal: m.goal })));
  console.table(context);
} finally {
  helloServer.server.close();
  staticServer.server.close();
  await edgeloop.close();
  await rm(dir, { recursive: true, force: true });
}
