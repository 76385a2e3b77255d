import type { Manifest, ModelRelease } from '@edgeloop/protocol';

/** A release that can run offline: its manifest entry and the bytes of every file, by sha256. */
export interface CachedRelease {
  release: ModelRelease;
  files: Map<string, ArrayBuffer>;
}

/**
 * Where a device keeps models between visits. IndexedDB in browsers; any implementation must make
 * {@link ModelStore.activate} atomic: after a crash either the old or the new release is active,
 * never a mix or a partial one.
 */
export interface ModelStore {
  /** The active release of `model` with all its bytes, or null if none is stored completely. */
  getActive(app: string, model: string): Promise<CachedRelease | null>;
  /** Stores every file of `release` and makes it the active one, in one transaction. */
  activate(app: string, release: ModelRelease, files: Map<string, ArrayBuffer>): Promise<void>;
  getManifest(app: string): Promise<{ manifest: Manifest; etag: string | null } | null>;
  putManifest(app: string, manifest: Manifest, etag: string | null): Promise<void>;
  close(): void;
}
