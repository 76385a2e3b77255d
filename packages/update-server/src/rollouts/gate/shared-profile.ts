import type { ReferenceProfile } from '@edgeloop/telemetry';
import type { Sql } from '../../db/database.js';
import { parseStoredProfile, resolveProfiles, versionKey } from '../../profiles/profile-store.js';

/**
 * The reference profile both versions of a rollout are measured against, or null when they do not
 * share one (a candidate published without a profile of its own inherits its predecessor's, so
 * usually they do). Output metrics of the gate compare the arms on it.
 */
export async function sharedProfile(sql: Sql, app: string, model: string, versions: [string, string]): Promise<ReferenceProfile | null> {
  const profiles = await resolveProfiles(sql, app);
  const a = profiles.get(versionKey(model, versions[0]));
  const b = profiles.get(versionKey(model, versions[1]));
  if (a === undefined || b === undefined || a.id !== b.id) return null;
  return parseStoredProfile(a);
}

/** Names of the output features of the profile both versions share (the default gate compares each). */
export async function sharedOutputFeatures(sql: Sql, app: string, model: string, versions: [string, string]): Promise<string[]> {
  const profile = await sharedProfile(sql, app, model, versions);
  if (profile === null) return [];
  return [...profile.numeric, ...profile.categorical].filter((f) => f.role === 'output').map((f) => f.name);
}
