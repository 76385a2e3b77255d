export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export {
  NAME_PATTERN,
  NAME_RULE,
  VERSION_LABEL_PATTERN,
  isName,
  nameSchema,
  sha256Schema,
  versionLabelSchema,
} from './names.js';
export {
  MANIFEST_SCHEMA_VERSION,
  manifestFileSchema,
  manifestSchema,
  modelFile,
  modelFormatSchema,
  modelReleaseSchema,
  parseManifest,
  type Manifest,
  type ManifestFile,
  type ModelFormat,
  type ModelRelease,
} from './manifest/manifest.js';
export { deviceRoutes } from './routes.js';
export {
  formatTensorSpecs,
  modelSignatureSchema,
  tensorDtypeSchema,
  tensorSpecSchema,
  type ModelSignature,
  type TensorDtype,
  type TensorSpec,
} from './signature.js';
