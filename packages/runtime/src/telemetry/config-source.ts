import type { Manifest } from '@edgeloop/protocol';
import { parseTelemetryConfig, type TelemetryConfig } from '@edgeloop/telemetry';

/**
 * The telemetry config of the latest verified manifest (`manifest.telemetry`, signed with it).
 * `update` is Delivery's hook, called only with manifests it verified; `current` is the collector's
 * getter. A manifest without a config, or with one this runtime cannot read, leaves none: nothing
 * is sealed under a config the device has not checked.
 */
export function telemetryConfigSource(): { update: (manifest: Manifest) => void; current: () => TelemetryConfig | null } {
  let raw: unknown;
  let config: TelemetryConfig | null = null;
  return {
    update(manifest) {
      if (manifest.telemetry === raw) return;
      raw = manifest.telemetry;
      if (raw === undefined) {
        config = null;
        return;
      }
      try {
        config = parseTelemetryConfig(raw);
      } catch (error) {
        config = null;
        console.warn(`edgeloop telemetry: manifest ${manifest.version} carries a telemetry config this runtime cannot use; nothing is sealed until one it can:`, (error as Error).message);
      }
    },
    current: () => config,
  };
}
