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
export {
  manifestRolloutSchema,
  referenceProfileRefSchema,
  releaseVariantSchema,
  type ManifestRollout,
  type ReferenceProfileRef,
  type ReleaseVariant,
} from './manifest/manifest.js';
export * from './rollout/index.js';
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
export { canonicalJson } from './signing/canonical-json.js';
export { fromBase64, toBase64, toHex } from './signing/base64.js';
export { keyIdOf, signingBytes, verifyEd25519 } from './signing/ed25519.js';
export {
  SIGNING_CONTEXT,
  publicKeySchema,
  rotationStatementSchema,
  signatureSchema,
  signedEnvelopeSchema,
  type PublicKeyInfo,
  type RotationStatement,
  type Signature,
  type SignedEnvelope,
} from './signing/envelope.js';
export {
  TrustError,
  pinKeys,
  repinKeys,
  verifyManifestEnvelope,
  type ManifestTarget,
  type TrustFailure,
  type TrustState,
  type VerifiedManifest,
} from './signing/trust.js';
export {
  DEFAULT_HEALTH_POLICY,
  healthPolicySchema,
  resolveHealthPolicy,
  type HealthPolicy,
  type ResolvedHealthPolicy,
} from './manifest/health-policy.js';
export {
  BYTES_PER_ELEMENT,
  FLOAT_DTYPES,
  fromBfloat16,
  fromFloat16,
  tensorNumbers,
  toBfloat16,
  toFloat16,
  type TensorData,
  type TensorDataMap,
  type TensorValue,
} from './tensor-data.js';
export {
  GOLDEN_FORMAT,
  GOLDEN_FORMAT_VERSION,
  GOLDEN_MAX_ELEMENTS,
  parseGolden,
  type GoldenCase,
  type GoldenExpected,
  type GoldenFile,
  type GoldenTensor,
} from './golden/golden-format.js';
export { DEFAULT_GOLDEN_TOLERANCE, goldenToleranceSchema, type GoldenTolerance } from './golden/tolerance.js';
export { checkGoldenCase, compareOutput, type ActualTensor, type GoldenCaseCheck, type GoldenFailure, type OutputCheck } from './golden/compare.js';
export { encodeGolden, type GoldenCaseInput } from './golden/encode-golden.js';
export { goldenSignatureProblems } from './golden/fits-signature.js';
