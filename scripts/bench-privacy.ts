/**
 * `npm run bench:privacy [-- --quick]`: the evidence for telemetry's device-level privacy.
 *
 * - the scripted attack suite (bench/privacy/attack-suite.ts) against real servers on loopback:
 *   differencing in time and across routes, polling, existence of hidden rows, a Sybil fill from one
 *   source, one device flushing over and over, forged and back-dated reports, a signed profile naming
 *   a raw input element;
 * - every request of real Chromium pages captured at the wire (bench/privacy/wire-run.ts);
 * - ε per device per day: the accountant's figure at the defaults against what a real runtime
 *   collector charged over a simulated day (they must agree, or the bench fails);
 * - drift power and false alarms of the first daily release under between-device heterogeneity
 *   (ICC 0.3), on worker threads, at the shipped split (one sampled feature per report at the whole
 *   drift ε) and, side by side, the alternative (every feature in every report at ε / 16).
 *
 * Writes bench-results/privacy.json and prints a table. docs/telemetry-privacy.md explains the
 * figures; docs/benchmarks.md has the latest run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runAttackSuite } from '../bench/privacy/attack-suite.js';
import { accountantFigures } from '../bench/privacy/device-epsilon.js';
import { FEATURES, ICC, INFERENCES_PER_DAY } from '../bench/privacy/drift-fleet.js';
import { runDriftTrialsInParallel } from '../bench/privacy/drift-pool.js';
import type { DriftCount, DriftTrial, DriftVariant } from '../bench/privacy/drift-trials.js';
import { wireRun } from '../bench/privacy/wire-run.js';
import { clopperPearsonUpper } from '../bench/stats/clopper-pearson.js';
import { DEFAULT_MIN_REPORTS, defaultTelemetryConfig } from '@edgeloop/telemetry';

const quick = process.argv.includes('--quick');
const THREADS = Math.max(1, Math.min(2, availableParallelism()));
const SHIFT = 0.25;
const started = Date.now();
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
const round = (v: number, digits = 4) => Number(v.toFixed(digits));

interface Metric {
  name: string;
  value: number;
  unit: string;
  goal: string;
}

// ---- the attack suite, with the real collector's simulated day on the same server ----

const suite = await runAttackSuite({ floor: DEFAULT_MIN_REPORTS, rawProfileDevices: quick ? 2 : 8, log: (line) => console.log(`${line} [${elapsed()}]`) });
const byName = (prefix: string) => suite.outcomes.filter((o) => o.name.startsWith(prefix));
const FLOOR_ATTACKS = ['time-range', 'route', 'polling', 'existence', 'Sybil', 'one device flushing'];
const floorOutcomes = suite.outcomes.filter((o) => FLOOR_ATTACKS.some((p) => o.name.startsWith(p)));
const forged = byName('forged')[0]!;
const rawProfile = byName('a signed profile naming a raw input')[0]!;
for (const o of suite.outcomes) console.log(`  ${o.name}: ${o.succeeded} of ${o.attempts} succeeded`);

// ---- ε per device per day: the accountant against the collector ----

const config = defaultTelemetryConfig();
const accountant = accountantFigures(config);
const collector = suite.collector;
// The collector ran one model with declared features through a day: it must have charged exactly
// one full report (the accountant's maximum), and no day may show more than the accountant's bound.
if (collector.maxSpentPerDay !== accountant.reportEpsilon || collector.declaredPerDay !== accountant.reportEpsilon || collector.maxSpentPerDay > accountant.perDay) {
  throw new Error(
    `the accountant and the collector disagree: the accountant gives ε ${accountant.reportEpsilon} per report and ${accountant.perDay} per day, ` +
      `the collector's budget record shows ${collector.maxSpentPerDay} spent in a day and its reports declare ${collector.declaredPerDay} (${collector.notes.join('; ')})`,
  );
}
console.log(`device ε per day: accountant ${accountant.perDay}, collector charged ${collector.maxSpentPerDay} [${elapsed()}]`);

// ---- real Chromium pages, every request captured at the wire ----

const WIRE_DEVICES = quick ? 2 : 4;
const wire = await wireRun({ devices: WIRE_DEVICES, log: (line) => console.log(`${line} [${elapsed()}]`) });
for (const v of wire.violations) console.log(`  wire violation: ${v}`);
console.log(`wire: ${wire.requests.filter((r) => !r.page).length} runtime requests checked, ${wire.violations.length} violations [${elapsed()}]`);

// ---- drift power and false alarms ----

const FLEETS = [1_000, 10_000, 100_000] as const;
const SPLIT_ALL: DriftVariant = { featuresPerReport: FEATURES };
const reps = (full: number) => (quick ? Math.max(20, Math.round(full / 20)) : full);
const plan: Array<{ label: string; trial: DriftTrial }> = [
  ...FLEETS.map((devices, i) => ({ label: `power_default_${devices}`, trial: { devices, reps: reps(devices === 100_000 ? 500 : 1000), seed: 11 + i, shift: SHIFT } })),
  ...FLEETS.map((devices, i) => ({ label: `power_split_all_${devices}`, trial: { devices, reps: reps(devices === 100_000 ? 200 : 500), seed: 21 + i, shift: SHIFT, variant: SPLIT_ALL } })),
  { label: 'power_score_test_10000', trial: { devices: 10_000, reps: reps(500), seed: 31, shift: SHIFT, variant: { test: 'score' } } },
  { label: 'false_alarms_10000', trial: { devices: 10_000, reps: reps(4000), seed: 41, shift: 0 } },
  { label: 'false_alarms_1000', trial: { devices: 1_000, reps: reps(2000), seed: 42, shift: 0 } },
  { label: 'false_alarms_100000', trial: { devices: 100_000, reps: reps(300), seed: 43, shift: 0 } },
  { label: 'false_alarms_split_all_10000', trial: { devices: 10_000, reps: reps(1000), seed: 44, shift: 0, variant: SPLIT_ALL } },
  // The device pipeline itself (FeatureRecorder + sealReport per device), to show the sampled trials stand for it.
  { label: 'false_alarms_pipeline_1000', trial: { devices: 1_000, reps: reps(100), seed: 51, shift: 0, simulate: 'pipeline' } },
  { label: 'power_pipeline_1000', trial: { devices: 1_000, reps: reps(100), seed: 52, shift: SHIFT, simulate: 'pipeline' } },
];
const driftStarted = Date.now();
const counts = await runDriftTrialsInParallel(plan.map((p) => p.trial), THREADS);
const drift = new Map<string, DriftCount>(plan.map((p, i) => [p.label, counts[i]!]));
const driftSeconds = (Date.now() - driftStarted) / 1000;
console.log(`drift trials: ${counts.reduce((a, c) => a + c.reps, 0)} daily releases on ${THREADS} threads in ${Math.round(driftSeconds)} s [${elapsed()}]`);
const power = (label: string) => drift.get(label)!.shiftedFlagged / drift.get(label)!.reps;
const alarms = (label: string) => drift.get(label)!.anyFlagged / drift.get(label)!.reps;
const trialInfo = (label: string) => {
  const c = drift.get(label)!;
  const trial = plan.find((p) => p.label === label)!.trial;
  const hits = trial.shift === 0 ? c.anyFlagged : c.shiftedFlagged;
  return {
    devices: trial.devices,
    reps: c.reps,
    simulate: trial.simulate ?? 'sampled',
    ...(trial.variant && { variant: trial.variant }),
    [trial.shift === 0 ? 'releases_with_any_feature_flagged' : 'releases_with_shifted_feature_flagged']: hits,
    rate: round(hits / c.reps),
    upper95: round(clopperPearsonUpper(hits, c.reps, 0.95)),
    lower95: round(1 - clopperPearsonUpper(c.reps - hits, c.reps, 0.95)),
  };
};

// ---- metrics ----

const succeeded = (list: typeof suite.outcomes) => list.reduce((a, o) => a + o.succeeded, 0);
const attempts = (list: typeof suite.outcomes) => list.reduce((a, o) => a + o.attempts, 0);
const sizeName = (devices: number) => `${devices}x${INFERENCES_PER_DAY}`;
const metrics: Metric[] = [
  { name: 'floor_bypass_attempts_succeeded', value: succeeded(floorOutcomes), unit: 'attempts', goal: '== 0' },
  { name: 'floor_bypass_attempts', value: attempts(floorOutcomes), unit: 'attempts', goal: 'report' },
  { name: 'forged_parameter_reports_admitted', value: forged.succeeded, unit: 'reports', goal: '== 0' },
  { name: 'forged_parameter_reports_tried', value: forged.attempts, unit: 'reports', goal: 'report' },
  { name: 'undeclared_raw_input_feature_summarised', value: rawProfile.succeeded, unit: 'devices/reports', goal: '== 0' },
  { name: 'exact_fields_leaving_device', value: wire.violations.length, unit: 'violations', goal: '== 0' },
  { name: 'wire_requests_checked', value: wire.requests.filter((r) => !r.page).length, unit: 'requests', goal: 'report' },
  { name: 'device_epsilon_per_day', value: accountant.perDay, unit: 'epsilon', goal: '<= 8' },
  { name: 'device_epsilon_per_day_collector_charged', value: collector.maxSpentPerDay, unit: 'epsilon', goal: '<= 8' },
  { name: 'false_alarm_rate_icc_0p3', value: round(alarms('false_alarms_10000')), unit: 'ratio', goal: '<= 0.01' },
  ...FLEETS.map((devices) => ({
    name: `drift_power_0p25sigma_${sizeName(devices)}_default_privacy`,
    value: round(power(`power_default_${devices}`)),
    unit: 'ratio',
    goal: devices === 10_000 ? '>= 0.8' : 'report',
  })),
  ...FLEETS.map((devices) => ({
    name: `drift_power_0p25sigma_${sizeName(devices)}_split_all_features`,
    value: round(power(`power_split_all_${devices}`)),
    unit: 'ratio',
    goal: 'report',
  })),
];

const info = {
  quick,
  threads: THREADS,
  wall_s: Math.round((Date.now() - started) / 1000),
  machine: `${availableParallelism()} cores, Node ${process.versions.node}`,
  attacks: {
    floor: suite.floor,
    seconds: round(suite.seconds, 1),
    outcomes: suite.outcomes.map((o) => ({ name: o.name, attempts: o.attempts, succeeded: o.succeeded, details: o.details })),
  },
  device_epsilon: {
    unit: 'one device over one UTC day',
    device_cap: accountant.perDay,
    report_epsilon_at_defaults: accountant.reportEpsilon,
    reports_per_day: accountant.reportsPerDay,
    split_per_entry: accountant.split,
    report_epsilon_by_entries: accountant.byEntries,
    collector: collector,
  },
  wire: {
    devices: WIRE_DEVICES,
    reports_admitted: wire.reports,
    violations: wire.violations,
    requests: wire.requests.filter((r) => !r.page).map((r) => `${r.method} ${r.path.replace(/[0-9a-f]{64}/, '…')} ${r.status}`),
  },
  drift: {
    model: `${FEATURES} numeric features N(0, 1), ${INFERENCES_PER_DAY} inferences per device per day, ICC ${ICC}; feature 0 shifts by ${SHIFT} σ; detection = feature 0 flagged (BH at 0.01, effect floor) by analyzeDrift in the first daily release; false alarm = any feature flagged with nothing shifted`,
    drift_epsilon: config.drift.epsilon,
    default_split: 'one feature sampled per report at the whole drift ε',
    alternative_split: `every feature in every report at ε / ${FEATURES}`,
    seconds: round(driftSeconds, 1),
    trials: Object.fromEntries(plan.map((p) => [p.label, trialInfo(p.label)])),
  },
};

await mkdir(join(import.meta.dirname, '..', 'bench-results'), { recursive: true });
await writeFile(join(import.meta.dirname, '..', 'bench-results', 'privacy.json'), `${JSON.stringify({ suite: 'privacy', metrics, info }, null, 2)}\n`);

console.log(`\nprivacy benchmark (${quick ? 'quick' : 'full'}; ${THREADS} threads; ${info.wall_s} s)\n`);
console.log(`${'metric'.padEnd(58)}${'value'.padStart(10)}  goal`);
for (const m of metrics) console.log(`${m.name.padEnd(58)}${String(m.value).padStart(10)}  ${m.goal}`);
console.log(`\n${'drift trial'.padEnd(32)}${'devices'.padStart(9)}${'reps'.padStart(7)}${'rate'.padStart(9)}  95 % interval`);
for (const p of plan) {
  const t = trialInfo(p.label);
  console.log(`${p.label.padEnd(32)}${String(t.devices).padStart(9)}${String(t.reps).padStart(7)}${String(t.rate).padStart(9)}  [${t.lower95}, ${t.upper95}]`);
}
console.log('\nwrote bench-results/privacy.json');
