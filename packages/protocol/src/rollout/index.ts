export { BUCKETS, bucketOf, inRollout, thresholdOf } from './bucket.js';
export { murmur3 } from './hash.js';
export { compareVersions, isVersionRange, parseVersion, satisfies } from './semver-range.js';
export {
  conditionSchema,
  matchesAudience,
  matchesCondition,
  variantRuleSchema,
  type Condition,
  type DeviceContext,
  type VariantRule,
} from './targeting.js';
export { rolloutPlanFields, type Cohort, type RolloutArm } from './plan.js';
export { selectRelease, type Selection } from './evaluate.js';
