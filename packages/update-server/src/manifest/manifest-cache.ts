import { MANIFEST_SCHEMA_VERSION, deviceRoutes, type Manifest } from '@edgeloop/protocol';
import type { Registry } from '../registry/registry.js';

interface CachedManifest {
  manifest: Manifest;
  body: string;
  etag: string;
}

/**
 * Manifests are computed when something changes, not per poll: a poll is answered from memory.
 * `invalidate(app)` is called by the registry after every committed change.
 */
export class ManifestCache {
  readonly #registry: Registry;
  readonly #cache = new Map<string, Promise<CachedManifest>>();

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  invalidate(app: string): void {
    this.#cache.delete(app);
  }

  get(app: string): Promise<CachedManifest> {
    let entry = this.#cache.get(app);
    if (!entry) {
      entry = this.#build(app);
      this.#cache.set(app, entry);
      // A failed build (unknown app, database error) must not be remembered.
      entry.catch(() => this.#cache.delete(app));
    }
    return entry;
  }

  async #build(app: string): Promise<CachedManifest> {
    const version = await this.#registry.manifestVersion(app);
    const latest = await this.#registry.latestVersions(app);
    const manifest: Manifest = {
      schema: MANIFEST_SCHEMA_VERSION,
      app,
      version,
      issuedAt: new Date().toISOString(),
      models: Object.fromEntries(
        latest.map((record) => [
          record.model,
          {
            model: record.model,
            version: record.version,
            releaseId: `${record.model}@${record.version}#${record.sha256.slice(0, 16)}`,
            format: record.format,
            files: [
              {
                role: 'model' as const,
                sha256: record.sha256,
                length: record.size,
                // Relative to the server base URL, so one manifest works behind any host name or path prefix.
                url: deviceRoutes.artifact(record.sha256),
              },
            ],
          },
        ]),
      ),
    };
    const body = JSON.stringify(manifest);
    return { manifest, body, etag: `"m${version}"` };
  }
}
