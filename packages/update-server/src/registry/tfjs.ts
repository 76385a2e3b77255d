import type { ModelFormat, ModelSignature, TensorDtype, TensorSpec } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';

/** TensorFlow DataType names as tfjs-converter writes them in model.json signatures. */
const DTYPES: Record<string, TensorDtype> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_INT32: 'int32',
  DT_INT64: 'int64',
  DT_UINT8: 'uint8',
  DT_INT8: 'int8',
  DT_INT16: 'int16',
  DT_UINT16: 'uint16',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
  DT_HALF: 'float16',
};

interface TfjsTensorInfo {
  name?: string;
  dtype?: string;
  tensorShape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean };
}

interface GraphNode {
  name?: string;
  op?: string;
  input?: string[];
  attr?: {
    dtype?: { type?: string };
    T?: { type?: string };
    shape?: { shape?: TfjsTensorInfo['tensorShape'] };
  };
}

interface WeightEntry {
  name?: string;
  shape?: unknown;
  dtype?: string;
  quantization?: { dtype?: string };
}

interface ModelJson {
  format?: unknown;
  modelTopology?: { node?: GraphNode[] } | unknown;
  weightsManifest?: Array<{ paths?: unknown[]; weights?: WeightEntry[] }>;
  signature?: { inputs?: Record<string, TfjsTensorInfo>; outputs?: Record<string, TfjsTensorInfo> };
}

/** Bytes per element of each dtype a weightsManifest entry can be stored as (tfjs-core io types). */
const WEIGHT_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, float16: 2, uint16: 2, int16: 2, uint8: 1, int8: 1 };

export interface TfjsInfo {
  signature: ModelSignature;
  /** Weight shard files the model names, in order: the runtime hands them to TF.js in this order. */
  shards: string[];
  /**
   * Bytes the weights file must have, summed over weightsManifest (shape × dtype, or the quantized
   * dtype); null when a string weight makes the size depend on its contents.
   */
  weightsBytes: number | null;
}

/**
 * Checks that `bytes` are a TF.js `model.json` of the declared format and reads its signature
 * (graph models carry one; layers models' inputs are left to the engine to report).
 * Weights are published as one file with role `weights` (`POST …/versions/{v}/variants/default/files/weights`): a model split across several shards must
 * be converted with one shard (tfjs-converter `--weight_shard_size_bytes` larger than the weights).
 */
export function inspectTfjs(bytes: Uint8Array, format: Exclude<ModelFormat, 'onnx'>): TfjsInfo {
  let json: ModelJson;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ModelJson;
  } catch (error) {
    throw notTfjs(`it is not UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || json.modelTopology === undefined) throw notTfjs('it has no "modelTopology"');
  const expected = format === 'tfjs-graph' ? 'graph-model' : 'layers-model';
  if (json.format !== undefined && json.format !== expected) {
    throw notTfjs(`its "format" is ${JSON.stringify(json.format)} but the upload says ${format} (${expected}); publish it with the matching ?format=`);
  }
  if (!Array.isArray(json.weightsManifest)) throw notTfjs('it has no "weightsManifest"');
  const shards = json.weightsManifest.flatMap((group) => (Array.isArray(group.paths) ? group.paths.map(String) : []));
  if (shards.length > 1) {
    throw new ServerError(
      'invalid_model',
      `the model's weights are split into ${shards.length} shards (${shards.join(', ')}); re-convert it with a single shard (tfjs-converter --weight_shard_size_bytes) and add that file as the version's weights (POST …/variants/default/files/weights, or edgeloop publish --role weights)`,
    );
  }
  const specs = (infos: Record<string, TfjsTensorInfo> | undefined): TensorSpec[] =>
    Object.entries(infos ?? {}).map(([key, info]) => specOf(info.name ?? key, info.dtype, info.tensorShape));
  const declared = { inputs: specs(json.signature?.inputs), outputs: specs(json.signature?.outputs) };
  const signature = format === 'tfjs-graph' && declared.inputs.length === 0 && declared.outputs.length === 0 ? graphSignature(json) : declared;
  return { signature, shards, weightsBytes: weightsBytes(json.weightsManifest) };
}

/**
 * Refuses a weights file whose size is not what model.json's weightsManifest describes: TF.js would
 * read past its end or slice it wrongly, and the model would fail (or compute garbage) on every device.
 */
export function checkTfjsWeights(info: TfjsInfo, size: number): void {
  if (info.weightsBytes === null || info.weightsBytes === size) return;
  throw new ServerError(
    'invalid_model',
    `the weights file is ${size} bytes but model.json's weightsManifest describes ${info.weightsBytes} bytes; upload the weights file (${info.shards.join(', ') || 'its .bin'}) converted together with this model.json`,
  );
}

function specOf(name: string, dtype: string | undefined, shape: TfjsTensorInfo['tensorShape']): TensorSpec {
  return {
    name,
    dtype: DTYPES[dtype ?? ''] ?? 'float32',
    dims: shape?.unknownRank || !shape?.dim ? null : shape.dim.map((d) => (d.size === undefined || Number(d.size) < 0 ? null : Number(d.size))),
  };
}

/**
 * A graph model converted without a `signature` block: TF.js (tfjs-converter's OperationMapper)
 * then feeds its Placeholder nodes and returns every node no other node consumes. The same is read
 * here, named as converter signatures name tensors (`node:0`).
 */
function graphSignature(json: ModelJson): ModelSignature {
  const topology = json.modelTopology as { node?: unknown } | null;
  const nodes = Array.isArray(topology?.node) ? (topology.node as GraphNode[]) : [];
  const consumed = new Set(nodes.flatMap((node) => (node.input ?? []).map((input) => input.replace(/^\^/, '').split(':')[0])));
  const inputs = nodes.filter((node) => node.op?.startsWith('Placeholder'));
  const outputs = nodes.filter((node) => node.name !== undefined && !consumed.has(node.name) && !node.op?.startsWith('Placeholder') && node.op !== 'Const' && node.op !== 'NoOp');
  const spec = (node: GraphNode) => specOf(`${node.name ?? ''}:0`, node.attr?.dtype?.type ?? node.attr?.T?.type, node.attr?.shape?.shape);
  return { inputs: inputs.map(spec), outputs: outputs.map(spec) };
}

function weightsBytes(manifest: ModelJson['weightsManifest']): number | null {
  let total = 0;
  for (const weight of (manifest ?? []).flatMap((group) => (Array.isArray(group.weights) ? group.weights : []))) {
    const bytes = WEIGHT_BYTES[weight.quantization?.dtype ?? weight.dtype ?? 'float32'];
    if (bytes === undefined || !Array.isArray(weight.shape)) return null; // string weights: size depends on contents
    total += (weight.shape as unknown[]).reduce<number>((n, d) => n * Number(d), 1) * bytes;
  }
  return Number.isSafeInteger(total) ? total : null;
}

function notTfjs(reason: string): ServerError {
  return new ServerError('invalid_model', `the uploaded bytes are not a TF.js model.json: ${reason}. Publish model.json first (?format=tfjs-graph or tfjs-layers), then add its weights file (…/variants/default/files/weights)`);
}
