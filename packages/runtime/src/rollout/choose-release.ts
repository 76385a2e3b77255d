import { selectRelease, type DeviceContext, type ModelRelease, type Selection } from '@edgeloop/protocol';
import { installId, type InstallIdStorage } from './install-id.js';

export interface RolloutChooser {
  /** The release this device loads for a manifest entry, and the cohort to report with telemetry. */
  choose(entry: ModelRelease): Promise<Selection>;
}

/**
 * Evaluates each model's rollout plan on the device with the shared protocol code: sticky buckets
 * from the local install id, then targeting on `device`.
 * @example
 * const chooser = rolloutChooser({ ids: localStorageIds(), device: await detectDeviceContext({ appVersion: '2.3.0' }) });
 * const { release, cohort } = await chooser.choose(manifest.models.vad);
 */
export function rolloutChooser(options: { ids: InstallIdStorage; device?: DeviceContext }): RolloutChooser {
  let id: Promise<string> | undefined;
  return {
    async choose(entry) {
      id ??= installId(options.ids);
      return selectRelease(entry, await id, options.device ?? {});
    },
  };
}
