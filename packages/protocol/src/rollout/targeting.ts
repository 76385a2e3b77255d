import { z } from 'zod';
import { isVersionRange, satisfies } from './semver-range.js';

const scalar = z.union([z.string().max(256), z.number(), z.boolean()]);
const token = z.string().min(1).max(64);

/**
 * What a targeting condition can test: only what the device itself knows. Every field that is
 * present must hold (AND); a list inside a field matches any of its entries (OR).
 */
export const conditionSchema = z.strictObject({
  /** e.g. `["web", "electron"]`, matched exactly. */
  platforms: z.array(token).min(1).max(32).optional(),
  /** The host app's version, e.g. `>=2.1.0 <3`. */
  appVersion: z.string().max(128).refine(isVersionRange, 'must be comparators such as ">=2.1.0 <3"').optional(),
  /** A backend the device can run, with required features, e.g. `{ name: "webgpu", features: ["shader-f16"] }`. */
  backend: z.strictObject({ name: token, features: z.array(token).max(16).optional() }).optional(),
  /** BCP 47 tags or prefixes: `en` matches `en-GB`. */
  locales: z.array(token).min(1).max(64).optional(),
  /** Custom attributes the app passes: equal to the value, or to one of the values in a list. */
  attributes: z.record(token, z.union([scalar, z.array(scalar).min(1).max(64)])).optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

/** The first rule whose `when` holds picks its variant of the release the device is served. */
export const variantRuleSchema = z.strictObject({ when: conditionSchema, variant: token });
export type VariantRule = z.infer<typeof variantRuleSchema>;

/** Facts about one device, gathered on the device; none of it is sent to the server. */
export interface DeviceContext {
  platform?: string;
  appVersion?: string;
  locale?: string;
  /** Backends that initialise here with their features, e.g. `{ wasm: [], webgpu: ["shader-f16"] }`. */
  backends?: Readonly<Record<string, readonly string[]>>;
  attributes?: Readonly<Record<string, string | number | boolean>>;
}

export function matchesCondition(condition: Condition, device: DeviceContext): boolean {
  if (condition.platforms && (device.platform === undefined || !condition.platforms.includes(device.platform))) return false;
  if (condition.appVersion !== undefined && (device.appVersion === undefined || !satisfies(device.appVersion, condition.appVersion))) {
    return false;
  }
  if (condition.backend) {
    const features = device.backends?.[condition.backend.name];
    if (!features || !(condition.backend.features ?? []).every((feature) => features.includes(feature))) return false;
  }
  if (condition.locales) {
    const locale = device.locale?.toLowerCase();
    if (!locale || !condition.locales.some((tag) => locale === tag.toLowerCase() || locale.startsWith(`${tag.toLowerCase()}-`))) {
      return false;
    }
  }
  for (const [name, expected] of Object.entries(condition.attributes ?? {})) {
    const actual = device.attributes?.[name];
    if (actual === undefined) return false;
    if (Array.isArray(expected) ? !expected.includes(actual) : expected !== actual) return false;
  }
  return true;
}

/** A device is in the audience when the audience is absent or any of its conditions holds. */
export function matchesAudience(audience: readonly Condition[] | undefined, device: DeviceContext): boolean {
  return audience === undefined || audience.length === 0 || audience.some((condition) => matchesCondition(condition, device));
}
