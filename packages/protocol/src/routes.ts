/**
 * Device-facing URL paths, relative to the server's base URL. Both sides build URLs from these,
 * so a route change is one edit that the type checker carries to the runtime and the server.
 */
export const deviceRoutes = {
  /** The manifest of `app`'s `channel`; the default channel is `stable`. */
  manifest: (app: string, channel = 'stable') =>
    channel === 'stable' ? `v1/apps/${encodeURIComponent(app)}/manifest` : `v1/apps/${encodeURIComponent(app)}/manifest?channel=${encodeURIComponent(channel)}`,
  artifact: (sha256: string) => `v1/artifacts/sha256/${sha256}`,
  /** The key that signs `app`'s manifests and the rotations leading to it (the app's own key, or the server's). */
  keys: (app: string) => `v1/apps/${encodeURIComponent(app)}/keys`,
  telemetry: (app: string) => `v1/apps/${encodeURIComponent(app)}/telemetry`,
} as const;
