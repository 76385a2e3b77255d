import protobuf from 'protobufjs';
import type { ModelSignature, TensorDtype, TensorSpec } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';

/**
 * The part of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto) needed to check that bytes are an
 * ONNX model and to read its signature. Fields not listed here are skipped by the decoder, so
 * weights and subgraphs cost nothing to walk past.
 */
const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message TensorProto { optional string name = 8; }
message NodeProto { optional string op_type = 4; }
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
`;

const ModelProto = protobuf.parse(ONNX_SUBSET).root.lookupType('onnx.ModelProto');

/** TensorProto.DataType numbers from onnx.proto. */
const ELEM_TYPES: Record<number, TensorDtype> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

interface DecodedValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: Array<{ dimValue?: number | Long; dimParam?: string }> } } };
}
interface Long {
  toNumber(): number;
}
interface DecodedModel {
  irVersion?: number | Long;
  producerName?: string;
  opsetImport?: Array<{ domain?: string; version?: number | Long }>;
  graph?: { node?: unknown[]; initializer?: Array<{ name?: string }>; input?: DecodedValueInfo[]; output?: DecodedValueInfo[] };
}

export interface OnnxInfo {
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  nodeCount: number;
  signature: ModelSignature;
}

const toNumber = (value: number | Long | undefined): number =>
  value === undefined ? 0 : typeof value === 'number' ? value : value.toNumber();

/**
 * Decodes `bytes` as an ONNX ModelProto and returns what the registry keeps about it.
 * Throws `invalid_model` (HTTP 400) when the bytes are not a loadable-looking ONNX model.
 */
export function inspectOnnx(bytes: Uint8Array): OnnxInfo {
  let model: DecodedModel;
  try {
    model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number }) as DecodedModel;
  } catch (error) {
    throw notOnnx(`it does not decode as an ONNX protobuf (${(error as Error).message})`);
  }
  const irVersion = toNumber(model.irVersion);
  const graph = model.graph;
  const opsets = (model.opsetImport ?? []).map((opset) => ({ domain: opset.domain ?? '', version: toNumber(opset.version) }));
  if (irVersion < 3) throw notOnnx(`its ir_version is ${irVersion}; ONNX models have 3 or more`);
  if (opsets.length === 0) throw notOnnx('it imports no operator set');
  if (!graph || (graph.node?.length ?? 0) === 0) throw notOnnx('it has no graph nodes');
  const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name ?? ''));
  const inputs = (graph.input ?? []).filter((input) => !initializers.has(input.name ?? '')).map(toSpec);
  const outputs = (graph.output ?? []).map(toSpec);
  if (outputs.length === 0) throw notOnnx('its graph has no outputs');
  return {
    irVersion,
    producer: model.producerName ?? '',
    opsets,
    nodeCount: graph.node?.length ?? 0,
    signature: { inputs, outputs },
  };
}

function toSpec(info: DecodedValueInfo): TensorSpec {
  const tensor = info.type?.tensorType;
  const dims = tensor?.shape?.dim?.map((dim) =>
    dim.dimValue !== undefined ? toNumber(dim.dimValue) : dim.dimParam !== undefined && dim.dimParam !== '' ? dim.dimParam : null,
  );
  return {
    name: info.name ?? '',
    dtype: ELEM_TYPES[tensor?.elemType ?? 1] ?? 'float32',
    dims: tensor?.shape === undefined ? null : (dims ?? []),
  };
}

function notOnnx(reason: string): ServerError {
  return new ServerError(
    'invalid_model',
    `the uploaded bytes are not an ONNX model: ${reason}. Upload the .onnx file itself (Content-Type: application/octet-stream)`,
  );
}
