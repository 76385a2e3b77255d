import type { TensorDtype } from '../signature.js';
import { FLOAT_DTYPES, tensorNumbers, type TensorDataMap } from '../tensor-data.js';
import type { GoldenCase, GoldenExpected } from './golden-format.js';
import { DEFAULT_GOLDEN_TOLERANCE, type GoldenTolerance } from './tolerance.js';

/**
 * Why an output failed its check: `nan` — the actual output holds NaN or ±Infinity; `mismatch` —
 * values outside the tolerance; `shape`, `dtype` — not the tensor expected; `missing` — the model
 * did not return it.
 */
export type GoldenFailure = 'nan' | 'mismatch' | 'shape' | 'dtype' | 'missing';

/** What a run returned for one output: any object with `dtype`, `dims` and the dtype's typed array. */
export interface ActualTensor {
  dtype: TensorDtype;
  dims: readonly number[];
  data: TensorDataMap[TensorDtype];
}

export interface OutputCheck {
  output: string;
  ok: boolean;
  failure?: GoldenFailure;
  /** The tolerance applied (the output's own, else the release's default, else cosine ≥ 0.99; exact for non-float outputs without their own). */
  tolerance: GoldenTolerance | 'exact';
  /** Measured, for float outputs: cosine similarity, largest absolute and relative difference. */
  cosine?: number;
  maxAbs?: number;
  maxRel?: number;
  /** One line for people, e.g. `output 'stateN': cosine 0.62 < 0.99`. */
  message: string;
}

export interface GoldenCaseCheck {
  case: string;
  ok: boolean;
  outputs: OutputCheck[];
}

/**
 * Compares one actual output with its expected value under `defaults` (the release's policy;
 * {@link DEFAULT_GOLDEN_TOLERANCE} when absent) unless the output carries its own tolerance.
 * Float outputs (float32/64/16, bfloat16) compare by value, whatever float dtype each side has;
 * other dtypes must match exactly unless the output has its own tolerance.
 */
export function compareOutput(name: string, expected: GoldenExpected, actual: ActualTensor | undefined, defaults: GoldenTolerance = DEFAULT_GOLDEN_TOLERANCE): OutputCheck {
  const floatExpected = FLOAT_DTYPES.has(expected.dtype);
  const tolerance: GoldenTolerance | 'exact' = expected.tolerance ?? (floatExpected ? defaults : 'exact');
  const failed = (failure: GoldenFailure, message: string, measured: Partial<OutputCheck> = {}): OutputCheck => ({
    output: name,
    ok: false,
    failure,
    tolerance,
    ...measured,
    message: `output '${name}': ${message}`,
  });
  if (!actual) return failed('missing', 'the model returned no such output');
  const floatActual = FLOAT_DTYPES.has(actual.dtype);
  if (actual.dtype !== expected.dtype && !(floatActual && floatExpected)) return failed('dtype', `expected ${expected.dtype}, got ${actual.dtype}`);
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return failed('shape', `expected shape [${expected.dims.join(',')}], got [${actual.dims.join(',')}]`);
  }
  if (floatActual) {
    const values = tensorNumbers(actual.dtype, actual.data);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) return failed('nan', `element ${bad} is ${values[bad]}`);
  }
  if (tolerance === 'exact') {
    const a = actual.data as ArrayLike<unknown>;
    const e = expected.data as ArrayLike<unknown>;
    for (let i = 0; i < e.length; i++) {
      if (a[i] !== e[i]) return failed('mismatch', `element ${i} is ${String(a[i])}, expected exactly ${String(e[i])}`);
    }
    return { output: name, ok: true, tolerance, message: `output '${name}': equal` };
  }
  if (actual.dtype === 'string' || expected.dtype === 'string') return failed('dtype', 'string outputs can only be compared exactly; remove the tolerance');
  const a = tensorNumbers(actual.dtype, actual.data);
  const e = tensorNumbers(expected.dtype, expected.data);
  const measured = measure(a, e);
  const problems: string[] = [];
  if (tolerance.cosine !== undefined && !(measured.cosine >= tolerance.cosine)) problems.push(`cosine ${round(measured.cosine)} < ${tolerance.cosine}`);
  if (tolerance.maxAbs !== undefined || tolerance.maxRel !== undefined) {
    const abs = tolerance.maxAbs ?? 0;
    const rel = tolerance.maxRel ?? 0;
    const worst = e.findIndex((expectedValue, i) => !(Math.abs(a[i]! - expectedValue) <= abs + rel * Math.abs(expectedValue)));
    if (worst >= 0) {
      const bound = tolerance.maxRel === undefined ? `maxAbs ${abs}` : tolerance.maxAbs === undefined ? `maxRel ${rel}` : `maxAbs ${abs} + maxRel ${rel}·|expected|`;
      problems.push(`element ${worst} is ${a[worst]}, expected ${e[worst]} (outside ${bound})`);
    }
  }
  if (problems.length > 0) return failed('mismatch', problems.join('; '), measured);
  return { output: name, ok: true, tolerance, ...measured, message: `output '${name}': within tolerance (cosine ${round(measured.cosine)}, max abs ${round(measured.maxAbs)})` };
}

/** Checks every expected output of one golden case against what the model returned for its inputs. */
export function checkGoldenCase(goldenCase: GoldenCase, outputs: Readonly<Record<string, ActualTensor>>, defaults?: GoldenTolerance): GoldenCaseCheck {
  const checks = Object.entries(goldenCase.outputs).map(([name, expected]) => compareOutput(name, expected, outputs[name], defaults));
  return { case: goldenCase.name, ok: checks.every((c) => c.ok), outputs: checks };
}

/** Cosine similarity (two zero vectors are identical: 1; one zero vector: 0) and the largest differences. */
function measure(a: readonly number[], e: readonly number[]): { cosine: number; maxAbs: number; maxRel: number } {
  let dot = 0;
  let na = 0;
  let ne = 0;
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    dot += x * y;
    na += x * x;
    ne += y * y;
    const diff = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, diff);
    if (diff > 0) maxRel = Math.max(maxRel, y === 0 ? Infinity : diff / Math.abs(y));
  }
  const cosine = na === 0 && ne === 0 ? 1 : na === 0 || ne === 0 ? 0 : dot / Math.sqrt(na * ne);
  return { cosine, maxAbs, maxRel };
}

const round = (value: number) => (Number.isFinite(value) ? Number(value.toPrecision(4)) : value);
