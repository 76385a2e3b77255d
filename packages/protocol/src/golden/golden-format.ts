import { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { tensorDtypeSchema, type TensorDtype } from '../signature.js';
import { fromBase64 } from '../signing/base64.js';
import { BYTES_PER_ELEMENT, FLOAT_DTYPES, tensorNumbers, toBfloat16, toFloat16, type TensorDataMap, type TensorValue } from '../tensor-data.js';
import { goldenToleranceSchema, type GoldenTolerance } from './tolerance.js';

/** The `format` field of every golden file. */
export const GOLDEN_FORMAT = 'edgeloop-golden';
export const GOLDEN_FORMAT_VERSION = 1;
/** Elements of one tensor, at most: golden cases are a few frames, not a data set. */
export const GOLDEN_MAX_ELEMENTS = 4 * 1024 * 1024;

const dimsSchema = z.array(z.number().int().nonnegative().max(2 ** 31 - 1)).max(16);

/**
 * One tensor on the wire. Exactly one of `data` (JSON values: numbers for floats and integers up to
 * 32 bits, decimal strings for int64/uint64, booleans or 0/1 for bool, strings for string) or
 * `base64` (the elements as little-endian bytes, for large tensors; not for `string`).
 */
const wireTensorFields = {
  dtype: tensorDtypeSchema,
  shape: dimsSchema,
  data: z.array(z.union([z.number(), z.string(), z.boolean()])).max(GOLDEN_MAX_ELEMENTS).optional(),
  base64: z.string().max(Math.ceil((GOLDEN_MAX_ELEMENTS * 8) / 3) * 4 + 4).optional(),
};
const wireTensorSchema = z.strictObject(wireTensorFields);
const wireExpectedSchema = z.strictObject({ ...wireTensorFields, tolerance: goldenToleranceSchema.optional() });

const tensorNameSchema = z.string().min(1).max(256);

const wireCaseSchema = z.strictObject({
  name: z.string().min(1).max(128),
  inputs: z.record(tensorNameSchema, wireTensorSchema),
  outputs: z.record(tensorNameSchema, wireExpectedSchema).refine((outputs) => Object.keys(outputs).length > 0, 'a case must expect at least one output'),
});

const wireGoldenSchema = z.strictObject({
  format: z.literal(GOLDEN_FORMAT),
  version: z.literal(GOLDEN_FORMAT_VERSION),
  /** Optional: the model the cases were made for, for people reading the file. */
  model: z.string().max(128).optional(),
  cases: z.array(wireCaseSchema).min(1).max(64),
});

/** A decoded tensor of a golden case: its data in the typed array of its dtype (see {@link TensorDataMap}). */
export type GoldenTensor = TensorValue & { dims: number[] };

export interface GoldenExpected extends GoldenTensor {
  /** Replaces the release's default tolerance for this output. */
  tolerance?: GoldenTolerance;
}

export interface GoldenCase {
  name: string;
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenExpected>;
}

export interface GoldenFile {
  format: typeof GOLDEN_FORMAT;
  version: typeof GOLDEN_FORMAT_VERSION;
  model?: string;
  cases: GoldenCase[];
}

const fail = (path: string, message: string): never => {
  throw new ProtocolError('invalid_golden', `invalid golden file: ${path}: ${message}`, [`${path}: ${message}`]);
};

/**
 * Parses and decodes an `edgeloop-golden` file (version 1): bytes, JSON text or an already
 * parsed value. Throws a {@link ProtocolError} `invalid_golden` whose message names the bad field,
 * e.g. `cases.0.inputs.sr.data.0: int64 data must be decimal strings such as "16000"`.
 * @example
 * const golden = parseGolden(await readFile('silence.json'));
 * for (const c of golden.cases) await model.run(c.inputs);
 */
export function parseGolden(value: unknown): GoldenFile {
  let json = value;
  if (value instanceof Uint8Array) json = new TextDecoder('utf-8', { fatal: false }).decode(value);
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (error) {
      fail('(root)', `not JSON (${(error as Error).message}); a golden file is a JSON object { "format": "${GOLDEN_FORMAT}", "version": 1, "cases": [...] }`);
    }
  }
  const result = wireGoldenSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ProtocolError('invalid_golden', `invalid golden file: ${issues.join('; ')}`, issues);
  }
  const names = new Set<string>();
  return {
    format: GOLDEN_FORMAT,
    version: GOLDEN_FORMAT_VERSION,
    ...(result.data.model !== undefined && { model: result.data.model }),
    cases: result.data.cases.map((wire, i) => {
      if (names.has(wire.name)) fail(`cases.${i}.name`, `"${wire.name}" names two cases; give each case its own name`);
      names.add(wire.name);
      const inputs: Record<string, GoldenTensor> = {};
      for (const [name, tensor] of Object.entries(wire.inputs)) inputs[name] = decodeTensor(tensor, `cases.${i}.inputs.${name}`, false);
      const outputs: Record<string, GoldenExpected> = {};
      for (const [name, tensor] of Object.entries(wire.outputs)) {
        outputs[name] = { ...decodeTensor(tensor, `cases.${i}.outputs.${name}`, true), ...(tensor.tolerance && { tolerance: tensor.tolerance }) };
      }
      return { name: wire.name, inputs, outputs };
    }),
  };
}

type WireTensor = z.infer<typeof wireTensorSchema>;

function decodeTensor(wire: WireTensor, path: string, expected: boolean): GoldenTensor {
  const elements = wire.shape.reduce((product, dim) => product * dim, 1);
  if (elements > GOLDEN_MAX_ELEMENTS) fail(`${path}.shape`, `[${wire.shape.join(',')}] is ${elements} elements; at most ${GOLDEN_MAX_ELEMENTS} per tensor`);
  if ((wire.data === undefined) === (wire.base64 === undefined)) fail(path, 'give exactly one of "data" (JSON values) or "base64" (little-endian bytes)');
  const data = wire.base64 !== undefined ? fromBytes(wire.dtype, wire.base64, elements, `${path}.base64`) : fromJson(wire.dtype, wire.data!, `${path}.data`);
  if (data.length !== elements) fail(wire.base64 !== undefined ? `${path}.base64` : `${path}.data`, `has ${data.length} elements but shape [${wire.shape.join(',')}] needs ${elements}`);
  if (expected && FLOAT_DTYPES.has(wire.dtype)) {
    const values = tensorNumbers(wire.dtype, data);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`${path}.${wire.base64 !== undefined ? 'base64' : 'data'}`, `element ${bad} is ${values[bad]}; expected outputs must be finite (any NaN or Infinity in an output fails the check)`);
  }
  return { dtype: wire.dtype, dims: [...wire.shape], data } as GoldenTensor;
}

const INT_RANGE: Partial<Record<TensorDtype, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

function fromJson(dtype: TensorDtype, values: ReadonlyArray<number | string | boolean>, path: string): TensorDataMap[TensorDtype] {
  const at = (i: number) => `${path}.${i}`;
  const numbers = (check: (v: number, i: number) => void) =>
    values.map((v, i) => {
      if (typeof v !== 'number') fail(at(i), `${dtype} data must be JSON numbers; got ${JSON.stringify(v)}`);
      check(v as number, i);
      return v as number;
    });
  switch (dtype) {
    case 'float32':
      return Float32Array.from(numbers(() => {}));
    case 'float64':
      return Float64Array.from(numbers(() => {}));
    case 'float16':
      return Uint16Array.from(numbers(() => {}), toFloat16);
    case 'bfloat16':
      return Uint16Array.from(numbers(() => {}), toBfloat16);
    case 'int64':
    case 'uint64': {
      const min = dtype === 'int64' ? -(2n ** 63n) : 0n;
      const max = dtype === 'int64' ? 2n ** 63n - 1n : 2n ** 64n - 1n;
      const big = values.map((v, i) => {
        if (typeof v !== 'string' || !/^-?\d{1,20}$/.test(v)) fail(at(i), `${dtype} data must be decimal strings such as "16000" (JSON numbers lose precision past 2^53); got ${JSON.stringify(v)}`);
        const n = BigInt(v as string);
        if (n < min || n > max) fail(at(i), `${v} is outside ${dtype}`);
        return n;
      });
      return dtype === 'int64' ? BigInt64Array.from(big) : BigUint64Array.from(big);
    }
    case 'bool':
      return Uint8Array.from(
        values.map((v, i) => {
          if (v === true || v === 1) return 1;
          if (v === false || v === 0) return 0;
          return fail(at(i), `bool data must be true, false, 1 or 0; got ${JSON.stringify(v)}`);
        }),
      );
    case 'string':
      return values.map((v, i) => (typeof v === 'string' ? v : fail(at(i), `string data must be JSON strings; got ${JSON.stringify(v)}`)));
    default: {
      const [min, max] = INT_RANGE[dtype]!;
      const ints = numbers((v, i) => {
        if (!Number.isInteger(v) || v < min || v > max) fail(at(i), `${v} is not a ${dtype} (integers ${min}…${max})`);
      });
      const Ctor = { int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array }[dtype];
      return Ctor.from(ints);
    }
  }
}

function fromBytes(dtype: TensorDtype, base64: string, elements: number, path: string): TensorDataMap[TensorDtype] {
  if (dtype === 'string') return fail(path, 'string tensors cannot be base64; give "data" as JSON strings');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(base64);
  } catch {
    return fail(path, 'is not valid base64');
  }
  const size = BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength !== elements * size) fail(path, `has ${bytes.byteLength} bytes but ${elements} ${dtype} elements need ${elements * size}`);
  // Little-endian whatever the platform: read through a DataView, element by element.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fill = <T extends { length: number; [i: number]: number }>(out: T, get: (offset: number) => number): T => {
    for (let i = 0; i < elements; i++) out[i] = get(i * size);
    return out;
  };
  switch (dtype) {
    case 'float32':
      return fill(new Float32Array(elements), (o) => view.getFloat32(o, true));
    case 'float64':
      return fill(new Float64Array(elements), (o) => view.getFloat64(o, true));
    case 'int8':
      return fill(new Int8Array(elements), (o) => view.getInt8(o));
    case 'uint8':
    case 'bool':
      return fill(new Uint8Array(elements), (o) => view.getUint8(o));
    case 'int16':
      return fill(new Int16Array(elements), (o) => view.getInt16(o, true));
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return fill(new Uint16Array(elements), (o) => view.getUint16(o, true));
    case 'int32':
      return fill(new Int32Array(elements), (o) => view.getInt32(o, true));
    case 'uint32':
      return fill(new Uint32Array(elements), (o) => view.getUint32(o, true));
    case 'int64': {
      const out = new BigInt64Array(elements);
      for (let i = 0; i < elements; i++) out[i] = view.getBigInt64(i * size, true);
      return out;
    }
    case 'uint64': {
      const out = new BigUint64Array(elements);
      for (let i = 0; i < elements; i++) out[i] = view.getBigUint64(i * size, true);
      return out;
    }
  }
}
