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

interface ModelJson {
  format?: unknown;
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths?: unknown[]; weights?: unknown[] }>;
  signature?: { inputs?: Record<string, TfjsTensorInfo>; outputs?: Record<string, TfjsTensorInfo> };
}

export interface TfjsInfo {
  signature: ModelSignature;
  /** Weight shard files the model names, in order: the runtime hands them to TF.js in this order. */
  shards: string[];
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
    Object.entries(infos ?? {}).map(([key, info]) => ({
      name: info.name ?? key,
      dtype: DTYPES[info.dtype ?? ''] ?? 'float32',
      dims: info.tensorShape?.unknownRank || !info.tensorShape?.dim ? null : info.tensorShape.dim.map((d) => (d.size === undefined || Number(d.size) < 0 ? null : Number(d.size))),
    }));
  return { signature: { inputs: specs(json.signature?.inputs), outputs: specs(json.signature?.outputs) }, shards };
}

function notTfjs(reason: string): ServerError {
  return new ServerError('invalid_model', `the uploaded bytes are not a TF.js model.json: ${reason}. Publish model.json first (?format=tfjs-graph or tfjs-layers), then add its weights file (…/variants/default/files/weights)`);
}
