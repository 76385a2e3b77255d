/**
 * `npm run bench:loop [-- --quick] [-- --workers=N] [-- --aa=N] [-- --fraction=F]`: the fleet simulator (bench/loop) drives the
 * real update server through complete gated rollouts (steps 1, 5, 25, 50, 100) and measures what
 * the gate does: false rollbacks in A/A, detection of regressions by the end of the 5 % step, the
 * share of the fleet exposed, the agreement of the server with the pure decision function, the
 * HTTP path (real reports through the real ingest) against the injected-release path, and the cost
 * of one decision at 200,000 and 1,000,000 devices. The baseline, side by side: the daily timer a
 * rollout without a gate follows (one step per 24 h, whatever the telemetry says).
 *
 * Writes bench-results/loop.json and prints a table. docs/rollouts.md ("The fleet simulator")
 * describes the model and its assumptions.
 */
import { availableParallelism } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RunResult } from '../bench/loop/setup.js';
import { launchChromium } from '../e2e/support/chromium.js';
import { openHealthPage, serveHealthPage } from '../e2e/support/health-site.js';
import { measureRevertTiming, type RevertTiming } from '../e2e/support/revert-timing.js';
import { startTestServer } from '../e2e/support/update-server.js';
import { SCENARIOS, type ScenarioName } from '../bench/loop/scenarios.js';
import { clopperPearsonUpper } from '../bench/stats/clopper-pearson.js';
import type { LoopReply, LoopTask } from '../bench/loop/worker.js';

const quick = process.argv.includes('--quick');
const workersArg = process.argv.find((a) => a.startsWith('--workers='));
const WORKERS = workersArg ? Number(workersArg.slice(10)) : Math.max(1, Math.min(2, availableParallelism()));
/** `--aa=N`: A/A rollouts at 200,000 devices (full default 1,000, the least the metric's bound is defined over). */
const aaArg = process.argv.find((a) => a.startsWith('--aa='));
const AA_RUNS = aaArg ? Number(aaArg.slice(5)) : 1000;
if (!Number.isSafeInteger(AA_RUNS) || AA_RUNS < 1) throw new Error(`--aa takes a positive whole number of rollouts, got ${aaArg}`);
/** A rollout whose worker has not answered after this long is recorded as failed and its worker replaced. */
const TASK_TIMEOUT_MS = 5 * 60_000;
/** `--fraction=F`: every batch of the full plan runs F × its rollouts (at least one); for a shorter full-plan run. */
const fractionArg = process.argv.find((a) => a.startsWith('--fraction='));
const FRACTION = fractionArg ? Number(fractionArg.slice(11)) : 1;
if (!(FRACTION > 0 && FRACTION <= 1)) throw new Error(`--fraction takes a number in (0, 1], got ${fractionArg}`);
const FLEET = 200_000;

interface Batch {
  label: string;
  scenario: ScenarioName;
  size: number;
  runs: number;
  via: 'releases' | 'http';
}

const REGRESSIONS = (Object.keys(SCENARIOS) as ScenarioName[]).filter((s) => SCENARIOS[s].regression);
const plan: Batch[] = quick
  ? [
      { label: 'aa', scenario: 'aa', size: FLEET, runs: 6, via: 'releases' },
      ...REGRESSIONS.map((scenario) => ({ label: scenario, scenario, size: FLEET, runs: 2, via: 'releases' as const })),
      { label: 'http:crash_loop', scenario: 'crash_loop', size: 50_000, runs: 1, via: 'http' },
    ]
  : [
      { label: 'aa', scenario: 'aa', size: FLEET, runs: AA_RUNS, via: 'releases' },
      { label: 'errors_plus50pct', scenario: 'errors_plus50pct', size: FLEET, runs: 100, via: 'releases' },
      { label: 'p95_plus20pct', scenario: 'p95_plus20pct', size: FLEET, runs: 100, via: 'releases' },
      ...REGRESSIONS.filter((s) => s !== 'errors_plus50pct' && s !== 'p95_plus20pct').map((scenario) => ({ label: scenario, scenario, size: FLEET, runs: 40, via: 'releases' as const })),
      { label: 'errors_plus50pct@50k', scenario: 'errors_plus50pct', size: 50_000, runs: 100, via: 'releases' },
      { label: 'p95_plus20pct@50k', scenario: 'p95_plus20pct', size: 50_000, runs: 100, via: 'releases' },
      { label: 'errors_plus50pct@1m', scenario: 'errors_plus50pct', size: 1_000_000, runs: 10, via: 'releases' },
      { label: 'p95_plus20pct@1m', scenario: 'p95_plus20pct', size: 1_000_000, runs: 10, via: 'releases' },
      { label: 'aa@1m', scenario: 'aa', size: 1_000_000, runs: 2, via: 'releases' },
      ...(Object.keys(SCENARIOS) as ScenarioName[]).map((scenario) => ({ label: `http:${scenario}`, scenario, size: FLEET, runs: 1, via: 'http' as const })),
    ];

// ---- the device's revert in real Chromium: Silero v6 fails its golden check, v5 answers ----

const REVERT_RUNS = quick ? 5 : 20;
const revert = await measureDeviceRevert(REVERT_RUNS);
console.log(`device_revert_ms over ${revert.samples.length} reverts: p50 ${revert.p50.toFixed(1)} ms, p95 ${revert.p95.toFixed(1)} ms, max ${revert.max.toFixed(1)} ms`);

// ---- run the plan on a pool of worker threads, each with its own in-process server ----

const t0 = Date.now();
const results = new Map<string, RunResult[]>(plan.map((b) => [b.label, []]));
const tasks: Array<LoopTask & { label: string }> = [];
let id = 0;
for (const batch of plan) {
  const runs = quick || batch.label === 'aa' ? batch.runs : Math.max(1, Math.round(batch.runs * FRACTION));
  for (let r = 0; r < runs; r++) tasks.push({ id: id++, label: batch.label, scenario: batch.scenario, size: batch.size, seed: 1000 + r, via: batch.via });
}
// Longest first, so the pool ends together.
const cost = (t: LoopTask) => t.size * (t.scenario === 'aa' ? 5 : 1) * (t.via === 'http' ? 4 : 1);
tasks.sort((a, b) => cost(b) - cost(a));
const labelOf = new Map(tasks.map((t) => [t.id, t.label]));
let done = 0;
const failures: string[] = [];

async function startWorker(): Promise<Worker> {
  const worker = new Worker(new URL('../bench/loop/worker-entry.mjs', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return worker;
}

await Promise.all(
  Array.from({ length: WORKERS }, async () => {
    let worker = await startWorker();
    for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) {
      const { label, ...message } = task;
      const started = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reply = await new Promise<LoopReply>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        timer = setTimeout(() => resolve({ id: task.id, error: `no answer after ${TASK_TIMEOUT_MS / 1000} s (worker replaced)` }), TASK_TIMEOUT_MS);
        worker.postMessage(message);
      });
      clearTimeout(timer);
      worker.removeAllListeners('error');
      worker.removeAllListeners('message');
      if ('error' in reply && Date.now() - started >= TASK_TIMEOUT_MS) {
        await worker.terminate();
        worker = await startWorker();
      }
      if ('error' in reply) failures.push(`${labelOf.get(reply.id)} seed ${task.seed}: ${reply.error}`);
      else results.get(label)!.push(reply.result);
      done += 1;
      const seconds = (Date.now() - started) / 1000;
      if (quick || done % 25 === 0 || tasks.length === 0 || seconds > 60) {
        process.stdout.write(`  ${done} rollouts done (${label} seed ${task.seed}: ${'error' in reply ? 'failed' : reply.result.outcome}, ${seconds.toFixed(1)} s), ${Math.round((Date.now() - t0) / 1000)} s\n`);
      }
    }
    await new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage('close');
    });
    await worker.terminate();
  }),
);
if (failures.length > 0) {
  console.error(failures.join('\n\n'));
  throw new Error(`${failures.length} simulated rollouts failed`);
}

// ---- metrics ----

const all = (label: string) => results.get(label) ?? [];
const rate = (runs: RunResult[], hit: (r: RunResult) => boolean) => (runs.length === 0 ? Number.NaN : runs.filter(hit).length / runs.length);
const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (v: number, digits = 4) => Number(v.toFixed(digits));
/** Rolled back (a pause is not a detection) by the end of the 5 % step (step index 1). */
const detected = (r: RunResult) => r.outcome === 'rolled_back' && r.endStep <= 1;

const aa = all('aa');
const falseRollbacks = aa.filter((r) => r.outcome === 'rolled_back').length;
const completedAa = aa.filter((r) => r.outcome === 'completed');
const regressionRuns = [...results.entries()].filter(([label]) => !label.startsWith('http:') && SCENARIOS[all(label)[0]?.scenario ?? 'aa'].regression).flatMap(([, runs]) => runs);
const httpRuns = [...results.entries()].filter(([label]) => label.startsWith('http:')).flatMap(([, runs]) => runs);
const mismatches = (runs: RunResult[]) => runs.reduce((total, r) => total + r.mismatches, 0);
const decisionsMs = (size: number) => median([...results.values()].flat().filter((r) => r.size === size && r.via === 'releases').map((r) => r.decisionMsMedian));
/** The daily timer a rollout without a gate follows: one step per 24 h, so it reaches 100 % after four days. */
const TIMER_HOURS_TO_100 = 4 * 24;

interface Metric {
  name: string;
  value: number;
  unit: string;
  goal: string;
}
const metrics: Metric[] = [
  { name: 'false_rollback_rate_aa_upper95', value: round(clopperPearsonUpper(falseRollbacks, aa.length, 0.95)), unit: 'ratio', goal: '<= 0.02' },
  { name: 'aa_reached_100pct_rate', value: round(rate(aa, (r) => r.maxPercentage === 100)), unit: 'ratio', goal: '>= 0.95' },
  { name: 'aa_paused_rate', value: round(rate(aa, (r) => r.outcome === 'paused')), unit: 'ratio', goal: 'report' },
  { name: 'aa_time_to_100pct_ratio_vs_daily_timer', value: round(median(completedAa.map((r) => r.hours)) / TIMER_HOURS_TO_100, 3), unit: 'ratio', goal: 'report' },
  ...REGRESSIONS.map((s) => ({ name: `detection_rate_${s}`, value: round(rate(all(s), detected)), unit: 'ratio', goal: s === 'errors_plus50pct' || s === 'p95_plus20pct' ? '>= 0.9' : 'report' })),
  { name: 'fleet_share_exposed_before_rollback_errors_plus50pct', value: round(median(all('errors_plus50pct').map((r) => r.exposedShare))), unit: 'ratio', goal: '<= 0.05' },
  { name: 'bad_release_reached_100pct', value: regressionRuns.filter((r) => r.maxPercentage === 100).length, unit: 'rollouts', goal: '== 0' },
  ...(quick
    ? []
    : [
        { name: 'detection_rate_errors_plus50pct_50000_devices', value: round(rate(all('errors_plus50pct@50k'), detected)), unit: 'ratio', goal: 'report' },
        { name: 'detection_rate_errors_plus50pct_1000000_devices', value: round(rate(all('errors_plus50pct@1m'), detected)), unit: 'ratio', goal: 'report' },
        { name: 'detection_rate_p95_plus20pct_50000_devices', value: round(rate(all('p95_plus20pct@50k'), detected)), unit: 'ratio', goal: 'report' },
        { name: 'detection_rate_p95_plus20pct_1000000_devices', value: round(rate(all('p95_plus20pct@1m'), detected)), unit: 'ratio', goal: 'report' },
        { name: 'decision_ms_median_200000_devices', value: round(decisionsMs(200_000), 2), unit: 'ms', goal: 'report' },
        { name: 'decision_ms_median_1000000_devices', value: round(decisionsMs(1_000_000), 2), unit: 'ms', goal: 'report' },
        { name: 'decision_ms_ratio_1m_vs_200k_devices', value: round(decisionsMs(1_000_000) / decisionsMs(200_000), 3), unit: 'ratio', goal: '<= 1.5' },
      ]),
  { name: 'device_revert_ms_p95', value: round(revert.p95, 1), unit: 'ms', goal: '<= 1000' },
  { name: 'server_vs_decide_mismatched_decisions', value: mismatches([...results.values()].flat().filter((r) => r.via === 'releases')), unit: 'decisions', goal: '== 0' },
  { name: 'http_path_mismatched_decisions', value: mismatches(httpRuns), unit: 'decisions', goal: '== 0' },
];

const scenarios = Object.fromEntries(
  [...results.entries()].map(([label, runs]) => [
    label,
    {
      runs: runs.length,
      devices: runs[0]?.size,
      via: runs[0]?.via,
      outcomes: Object.fromEntries(['completed', 'rolled_back', 'paused', 'timeout'].map((o) => [o, runs.filter((r) => r.outcome === o).length])),
      rolled_back_by_step: [0, 1, 2, 3, 4].map((s) => runs.filter((r) => r.outcome === 'rolled_back' && r.endStep === s).length),
      hours_median: round(median(runs.map((r) => r.hours)), 1),
      exposed_share_median: round(median(runs.map((r) => r.exposedShare))),
      decision_ms_median: round(median(runs.map((r) => r.decisionMsMedian)), 2),
      reports_median: median(runs.map((r) => r.reports)),
      wall_s_median: round(median(runs.map((r) => r.wallMs / 1000)), 2),
      mismatched_decisions: mismatches(runs),
      ...(runs.some((r) => r.firstMismatch) && { first_mismatch: runs.find((r) => r.firstMismatch)!.firstMismatch }),
      example_reason: runs.find((r) => r.outcome !== 'completed')?.reason ?? runs[0]?.reason,
    },
  ]),
);
const info = {
  quick,
  fraction: FRACTION,
  fleet: FLEET,
  workers: WORKERS,
  wall_s: Math.round((Date.now() - t0) / 1000),
  device_revert_ms: { runs: revert.samples.length, p50: round(revert.p50, 1), p95: round(revert.p95, 1), max: round(revert.max, 1), samples: revert.samples.map((v) => round(v, 1)) },
  aa_false_rollbacks: falseRollbacks,
  aa_runs: aa.length,
  baseline: { name: 'daily timer (no gate)', hours_to_100pct: TIMER_HOURS_TO_100, bad_release_reached_100pct: regressionRuns.length, exposed_share: 1 },
  aa_hours_to_100pct_median: round(median(completedAa.map((r) => r.hours)), 1),
  scenarios,
};

await mkdir(join(import.meta.dirname, '..', 'bench-results'), { recursive: true });
await writeFile(join(import.meta.dirname, '..', 'bench-results', 'loop.json'), `${JSON.stringify({ suite: 'loop', metrics, info }, null, 2)}\n`);

console.log(`\nloop benchmark (${quick ? 'quick' : 'full'}; ${FLEET.toLocaleString('en')} devices; ${WORKERS} workers; ${info.wall_s} s)\n`);
console.log(`${'metric'.padEnd(56)}${'value'.padStart(10)}  goal`);
for (const m of metrics) console.log(`${m.name.padEnd(56)}${String(m.value).padStart(10)}  ${m.goal}`);
console.log(`\n${'scenario'.padEnd(26)}${'runs'.padStart(6)}${'devices'.padStart(10)}  completed/rolled back/paused  by step       hours  exposed  ms/decision`);
for (const [label, s] of Object.entries(scenarios)) {
  console.log(
    `${label.padEnd(26)}${String(s.runs).padStart(6)}${String(s.devices ?? '').padStart(10)}  ${`${s.outcomes.completed}/${s.outcomes.rolled_back}/${s.outcomes.paused}`.padEnd(28)}  ${s.rolled_back_by_step.join(',').padEnd(12)} ${String(s.hours_median).padStart(6)}  ${String(s.exposed_share_median).padStart(7)}  ${String(s.decision_ms_median).padStart(8)}`,
  );
}
console.log(`\nbaseline (daily timer, no gate): every regression reaches 100 % after ${TIMER_HOURS_TO_100} h; gated A/A median ${info.aa_hours_to_100pct_median} h`);
console.log('wrote bench-results/loop.json');

/**
 * device_revert_ms in Chromium (e2e/support/revert-timing.ts): each run a fresh device installs
 * Silero v5, gets v6 whose golden check fails, and reverts; from the failed check to v5 answering.
 */
async function measureDeviceRevert(runs: number): Promise<RevertTiming> {
  const [updates, site, browser] = await Promise.all([startTestServer(), serveHealthPage(), launchChromium()]);
  try {
    const page = await browser.newPage();
    await openHealthPage(page, site.url);
    return await measureRevertTiming(page, { url: updates.server.url, publicKey: updates.server.publicKey, admin: updates.admin }, { runs });
  } finally {
    await browser.close();
    await site.close();
    await updates.dispose();
  }
}
