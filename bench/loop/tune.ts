// Scratch tuning driver (not a benchmark): runs a few rollouts against the pure decide().
import { ReferenceProfile, decide, defaultTelemetryConfig, parseGatePolicy, seededRng } from '@edgeloop/telemetry';
import { createFleet, FEATURES, normalQuantile, OUTPUT_FEATURES, type Effect } from './fleet.js';
import { simulateRollout } from './rollout.js';

const size = Number(process.argv[2] ?? 200_000);
const runs = Number(process.argv[3] ?? 3);
const seedBase = Number(process.argv[5] ?? 100);
const scenario = process.argv[4] ?? 'aa';
const effects: Record<string, Effect | null> = {
  aa: null,
  errors: { errorMultiplier: { wasm: 1.5, webgpu: 1.5 } },
  p95: { latencyMultiplier: { wasm: 1.2, webgpu: 1.2 } },
  webgpu: { errorMultiplier: { webgpu: 2 }, latencyMultiplier: { webgpu: 1.3 } },
  shift: { outputShift: 0.5 },
  nan: { nanOnWebgpu: true },
  crash: { crashLoop: true },
};
const range = (ms: number) => ({ latencyP50: { center: Math.round(8 * Math.log2(ms)), halfRange: 7 }, latencyP95: { center: Math.round(8 * Math.log2(ms * 1.64)), halfRange: 7 } });
const config = defaultTelemetryConfig('tc_sim', { latency: { m: { wasm: range(12), webgpu: range(6) } } });
const refValues = Float64Array.from({ length: 20_000 }, (_, k) => normalQuantile((k + 0.5) / 20_000));
const profile = ReferenceProfile.fromSamples({ id: 'sim', numeric: Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, role: OUTPUT_FEATURES.includes(f) ? 'output' : 'input', values: refValues })) });
const policy = parseGatePolicy(process.env.REF ? { marginReferencePercent: Number(process.env.REF) } : {}, { outputFeatures: OUTPUT_FEATURES.map((f) => `f${f}`) });
const t0 = Date.now();
const fleet = createFleet(size, seededRng(1));
console.log('fleet', Date.now() - t0, 'ms');
let last: ReturnType<typeof decide> | undefined;
for (let r = 0; r < runs; r++) {
  const t = Date.now();
  const result = await simulateRollout({
    fleet, config, profile, steps: [1, 5, 25, 50, 100], effect: effects[scenario] ?? null, seed: seedBase + r, floor: 20,
    evaluate: async (look) => (last = decide({ policy, candidate: look.candidate, control: look.control, stepReports: look.stepReports, step: look.step, now: look.now, profile })),
  });
  if (process.env.DEBUG) for (const c of last!.comparisons) console.log('  ', c.verdict.padEnd(13), c.summary, 'tol', c.tolerance?.toFixed(3), 'stepMargin', c.stepMargin?.toFixed(3), 'n', c.candidate.reports, c.control.reports);
  if (process.env.JSONL) { console.log(JSON.stringify({ scenario, seed: seedBase + r, ...result })); continue; }
  console.log(scenario, r, result.outcome, 'step', result.endStep, 'max%', result.maxPercentage, 'hours', result.hours.toFixed(0), 'exposed', result.exposedShare.toFixed(4), 'gateMs', result.gateMs.toFixed(0), 'wall', Date.now() - t, '|', result.reason.slice(0, 220));
}
