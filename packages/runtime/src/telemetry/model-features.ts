import type { ReferenceProfileRef } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { FeatureTrack } from './feature-track.js';
import type { ReportableFeature } from './reportable-features.js';
import type { ProfileCache } from './signed-profile.js';

/**
 * What a loaded model version counts: the features `report` declares that the release's signed
 * profile lists. Null when the profile cannot be used: unreachable (quietly: tried again at the
 * next load) or not the signed bytes or not a valid profile (a `profile-rejected` event and a
 * warning). Never rejects.
 */
export async function modelFeatures(
  profiles: ProfileCache,
  ref: ReferenceProfileRef,
  report: readonly ReportableFeature[],
  about: { model: string; version: string; events: EventTarget | undefined },
): Promise<FeatureTrack | null> {
  const label = `${about.model}@${about.version}`;
  let profile;
  try {
    profile = await profiles.get(ref);
  } catch (error) {
    const failure = RuntimeError.fromUnknown(error, 'server');
    if (failure.code === 'network') return null;
    console.warn(`edgeloop telemetry: the reference profile ${ref.id} of ${label} was not used; no feature summaries for it:`, failure.message);
    about.events?.dispatchEvent(new CustomEvent('profile-rejected', { detail: { model: about.model, version: about.version, profile: ref.id, error: failure } }));
    return null;
  }
  const features = new FeatureTrack(profile, report, (error) =>
    console.warn(`edgeloop telemetry: a feature of ${label} failed to compute; its features count as missing until the next load:`, error),
  );
  if (features.mismatched.length > 0) {
    console.warn(`edgeloop telemetry: ${label} declares ${features.mismatched.map((n) => `"${n}"`).join(', ')} with another kind than profile ${profile.id} lists; not reported`);
  }
  return features;
}
