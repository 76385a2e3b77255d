import type { ModelFormat, ModelSignature, TensorDtype, TensorSpec } from '@edgeloop/protocol';
import type { io, Tensor as TfTensor } from '@tensorflow/tfjs-core';
import { RuntimeError } from '../errors.js';
import type { ModelFiles } from './engine.js';
import { normalizeDim } from './signature.js';

type Tf = typeof import('@tensorflow/tfjs-core');

/** A loaded TF.js model with one calling convention for graph and layers models. */
export interface TfjsModel {
  signature: ModelSignature;
  execute(inputs: Record<string, TfTensor>): Promise<Record<string, TfTensor>>;
  dispose(): void;
}

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  signature?: { outputs?: Record<string, { dtype?: string; tensorShape?: { dim?: Array<{ size?: string }> } }> };
  [key: string]: unknown;
}

// Bytes per element as stored in the weight files; quantized weights store the quantized type.
const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2 };

export async function loadTfjsModel(tf: Tf, format: ModelFormat, files: ModelFiles): Promise<TfjsModel> {
  const json = JSON.parse(new TextDecoder().decode(files.model)) as ModelJson;
  if (!json.modelTopology) throw new RuntimeError('invalid_model', 'the TF.js model.json has no modelTopology');
  const weightSpecs = (json.weightsManifest ?? []).flatMap((group) => group.weights);
  checkWeightBytes(weightSpecs, files.weights);
  const artifacts: io.ModelArtifacts = {
    ...(json as io.ModelArtifacts),
    weightSpecs,
    weightData: files.weights.length === 1 ? files.weights[0]! : [...files.weights],
  };
  try {
    if (format === 'tfjs-layers') {
      const { loadLayersModel } = await import('@tensorflow/tfjs-layers');
      return layersModel(await loadLayersModel(tf.io.fromMemory(artifacts)));
    }
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    return graphModel(await loadGraphModel(tf.io.fromMemory(artifacts)), json);
  } catch (error) {
    throw new RuntimeError('invalid_model', `TF.js could not load the ${format} model: ${(error as Error).message}`, { cause: error });
  }
}

/** A missing or extra shard would otherwise load silently as shifted, garbage weights. */
function checkWeightBytes(specs: io.WeightsManifestEntry[], weights: readonly ArrayBuffer[]): void {
  let expected = 0;
  for (const spec of specs) {
    const stored = spec.quantization?.dtype ?? spec.dtype;
    const size = STORED_BYTES[stored];
    // String weights have per-element lengths inside the data: their size is not knowable here.
    if (size === undefined) return;
    expected += size * spec.shape.reduce((a, b) => a * b, 1);
  }
  const given = weights.reduce((total, buffer) => total + buffer.byteLength, 0);
  if (given !== expected) {
    throw new RuntimeError(
      'invalid_model',
      `the TF.js weightsManifest needs ${expected} bytes of weights; the release has ${given} in ${weights.length} file(s) with role "weights". List every shard, in weightsManifest order`,
    );
  }
}

type GraphModel = Awaited<ReturnType<typeof import('@tensorflow/tfjs-converter').loadGraphModel>>;
type LayersModel = Awaited<ReturnType<typeof import('@tensorflow/tfjs-layers').loadLayersModel>>;

const TF_DTYPES: Record<string, TensorDtype> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_STRING: 'string' };
const specOf = (name: string, dtype: string | undefined, shape: readonly unknown[] | undefined): TensorSpec => ({
  name,
  // Graph outputs without a signature carry no dtype; converter graphs output float32 unless told otherwise.
  dtype: (dtype ?? 'float32') as TensorDtype,
  dims: shape ? shape.map(normalizeDim) : null,
});

function graphModel(model: GraphModel, json: ModelJson): TfjsModel {
  const outputNames = model.outputNodes.map((name) => name.replace(/:0$/, ''));
  // model.json's signature knows output shapes and dtypes the graph itself does not report.
  const declared = new Map(Object.entries(json.signature?.outputs ?? {}).map(([key, value]) => [key.replace(/:0$/, ''), value]));
  const signature: ModelSignature = {
    inputs: model.inputs.map((input) => specOf(input.name.replace(/:0$/, ''), input.dtype, input.shape)),
    outputs: outputNames.map((name, i) => {
      const meta = declared.get(name);
      const dims = meta?.tensorShape?.dim?.map((d) => Number(d.size ?? -1));
      return specOf(name, model.outputs[i]?.dtype ?? (meta?.dtype ? TF_DTYPES[meta.dtype] : undefined), model.outputs[i]?.shape ?? dims);
    }),
  };
  let dynamic = false;
  return {
    signature,
    async execute(inputs) {
      let result: TfTensor | TfTensor[];
      if (!dynamic) {
        try {
          result = model.execute(inputs, model.outputNodes) as TfTensor | TfTensor[];
        } catch (error) {
          // Control-flow graphs can only run asynchronously; TF.js says so in this message. Remember it.
          if (!/executeAsync/.test((error as Error).message)) throw error;
          dynamic = true;
          result = (await model.executeAsync(inputs, model.outputNodes)) as TfTensor | TfTensor[];
        }
      } else {
        result = (await model.executeAsync(inputs, model.outputNodes)) as TfTensor | TfTensor[];
      }
      const list = Array.isArray(result) ? result : [result];
      return Object.fromEntries(outputNames.map((name, i) => [name, list[i]!]));
    },
    dispose: () => model.dispose(),
  };
}

function layersModel(model: LayersModel): TfjsModel {
  // Named after their layers ('dense_input', 'dense'): Sequential models leave inputNames empty,
  // and symbolic tensor names carry counters that change from one load to the next.
  const inputNames = model.inputs.map((input) => input.sourceLayer.name);
  const outputNames = model.outputs.map((output) => output.sourceLayer.name);
  const signature: ModelSignature = {
    inputs: model.inputs.map((input, i) => specOf(inputNames[i]!, input.dtype, input.shape)),
    outputs: model.outputs.map((output, i) => specOf(outputNames[i]!, output.dtype, output.shape)),
  };
  return {
    signature,
    async execute(inputs) {
      const ordered = inputNames.map((name) => inputs[name]!);
      const result = model.predict(ordered.length === 1 ? ordered[0]! : ordered) as TfTensor | TfTensor[];
      const list = Array.isArray(result) ? result : [result];
      return Object.fromEntries(outputNames.map((name, i) => [name, list[i]!]));
    },
    dispose: () => model.dispose(),
  };
}
