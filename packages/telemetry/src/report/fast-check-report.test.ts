import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastCheckReport } from './fast-check-report.js';
import { telemetryReportSchema } from './report.js';

const name = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/);
const count = fc.nat({ max: 1e6 });
const latency = fc.record({
  alpha: fc.constantFrom(0.01, 0.02),
  zero: count,
  bins: fc.array(fc.tuple(fc.integer({ min: -50, max: 500 }), fc.integer({ min: 1, max: 1000 })), { maxLength: 5 }),
  min: fc.option(fc.double({ min: 0, max: 1e4, noNaN: true }), { nil: null }),
  max: fc.option(fc.double({ min: 0, max: 1e4, noNaN: true }), { nil: null }),
}, { noNullPrototype: true });
const kinds = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_-]{0,6}$/), fc.integer({ min: 1, max: 100 }), { maxKeys: 4, noNullPrototype: true });
const summaries = fc.record({
  profile: fc.string({ minLength: 1, maxLength: 8 }),
  totals: fc.array(count, { maxLength: 3 }),
  cells: fc.array(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  privacy: fc.option(fc.record({ mechanism: fc.constant('discrete_laplace'), epsilon: fc.double({ min: 0.1, max: 16, noNaN: true }), clip: fc.integer({ min: 1, max: 10_000 }) }, { noNullPrototype: true }), { nil: null }),
}, { noNullPrototype: true });
const model = fc.record(
  {
    model: name, version: fc.string({ minLength: 1, maxLength: 10 }), backend: fc.constantFrom('wasm', 'webgpu', 'cpu'),
    inferences: count, errors: count, latencyMs: latency,
    summaries, cohort: fc.record({ rollout: name, arm: fc.constantFrom('candidate', 'control', 'excluded') }, { noNullPrototype: true }),
    loadMs: latency, firstInferenceMs: latency, errorKinds: kinds, events: kinds,
  },
  { requiredKeys: ['model', 'version', 'backend', 'inferences', 'errors', 'latencyMs'], noNullPrototype: true },
);
const report = fc.record({
  schema: fc.constant(2),
  reportId: fc.uuid(),
  app: name,
  sentAt: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  models: fc.array(model, { maxLength: 3 }),
}, { noNullPrototype: true });

/** Replaces the value at one random path of `value` with `replacement`. */
function mutate(value: unknown, pick: number, replacement: unknown): unknown {
  const paths: Array<Array<string | number>> = [];
  const walk = (v: unknown, path: Array<string | number>) => {
    paths.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v !== null && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, [...path, k]));
  };
  walk(value, []);
  const path = paths[pick % paths.length]!;
  const copy = JSON.parse(JSON.stringify(value)) as Record<string | number, unknown>;
  if (path.length === 0) return replacement;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
  target[path[path.length - 1]!] = replacement;
  return copy;
}

const junk = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.integer(), fc.double(), fc.string({ maxLength: 5 }), fc.boolean(),
  fc.constant([]), fc.constant({}), fc.constant('Not A Name'), fc.constant(-1), fc.constant(1.5), fc.constant(2 ** 60),
  fc.constantFrom('treatment', 'other_mechanism', 'x'.repeat(300)),
);

describe('fastCheckReport', () => {
  it('accepts the reports zod accepts that it is meant for (so the hot path is taken)', () => {
    fc.assert(
      fc.property(report, (r) => {
        expect(telemetryReportSchema.safeParse(r).success).toBe(true);
        expect(fastCheckReport(r)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts only what zod accepts, and zod returns exactly the same value for it', () => {
    fc.assert(
      fc.property(report, fc.nat(), junk, fc.boolean(), (r, pick, replacement, addKey) => {
        const candidate = addKey ? { ...(mutate(r, pick, replacement) as object), extra: 1 } : mutate(r, pick, replacement);
        if (!fastCheckReport(candidate)) return;
        const parsed = telemetryReportSchema.safeParse(candidate);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(candidate);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves schema-1 reports with schema-2 fields to zod, which strips them', () => {
    const v1 = { schema: 1, reportId: '0b6f0b8e-4f6a-4d3c-9a57-0d3f3c1b2a11', app: 'demo', sentAt: '2026-11-25T12:00:00.000Z', models: [] };
    expect(fastCheckReport(v1)).toBe(true);
    const m = { model: 'vad', version: '5', backend: 'wasm', inferences: 0, errors: 0, latencyMs: { alpha: 0.01, zero: 0, bins: [], min: null, max: null } };
    expect(fastCheckReport({ ...v1, models: [m] })).toBe(true);
    expect(fastCheckReport({ ...v1, models: [{ ...m, cohort: { rollout: 'r', arm: 'control' } }] })).toBe(false);
  });
});
