import { MANIFEST_SCHEMA_VERSION, ProtocolError, parseManifest, type Manifest } from '@edgeloop/protocol';
import { parseTelemetryConfig, TelemetryError, type TelemetryConfig } from '@edgeloop/telemetry';
import { infrastructureError, ServerError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { ManifestSigner } from './signing-key.js';

export interface CachedManifest {
  manifest: Manifest;
  /** `manifest.issuedAt` as milliseconds, parsed once for the per-poll age check. */
  issuedAtMs: number;
  /** The signed envelope, serialized once. */
  body: string;
  etag: string;
}

export interface ManifestCacheOptions {
  /** Signs every app's manifests, except those of apps in `appSigners`. */
  signer: ManifestSigner;
  /** Apps with a signing key of their own (see createAppSigningKey). */
  appSigners?: Readonly<Record<string, ManifestSigner>>;
  /** How long a signed manifest stays valid. Default 24 h; it is re-issued after half of it. */
  ttlMs?: number;
  now?: () => number;
  /** The app's current telemetry config, signed into the manifest; issued first if the app has none (which bumps the manifest). */
  telemetryConfig?: (app: string) => Promise<TelemetryConfig>;
}

const keyOf = (app: string, channel: string) => `${app}\n${channel}`;

export const DEFAULT_MANIFEST_TTL_MS = 24 * 60 * 60 * 1000;
const MISSING_TTL_MS = 10_000;
/** Bounds memory when something polls many made-up app names. */
const MAX_MISSING = 10_000;
/** While the database cannot rebuild a manifest, the last one is served and a rebuild tried this often. */
const REBUILD_RETRY_MS = 2_000;

/**
 * Manifests are computed and signed when something changes, not per poll: a poll is answered from
 * memory. `invalidate(app)` is called after every committed change. Content depends only on the
 * database, so every instance sharing it signs byte-identical manifests.
 *
 * Polls that name an app or channel that does not exist are answered from memory too (the app as
 * missing for 10 s, the app's channel names until it changes), so made-up names cost no query.
 * When the database cannot rebuild an invalidated manifest (down, starting up, failing over), the
 * last one built keeps being served — it is signed and still valid — and the rebuild is retried.
 */
export class ManifestCache {
  readonly #registry: Registry;
  readonly #signer: ManifestSigner;
  readonly #appSigners: Readonly<Record<string, ManifestSigner>>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #telemetryConfig: ManifestCacheOptions['telemetryConfig'];
  readonly #cache = new Map<string, Promise<CachedManifest>>();
  /** The same manifests once built, for a synchronous read on the poll path. */
  readonly #ready = new Map<string, CachedManifest>();
  /** The last manifest built for a key that was invalidated since: served when rebuilding fails. */
  readonly #fallback = new Map<string, CachedManifest>();
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #reissuing = new Set<string>();
  /** Apps found missing, until when: a device polling an app that does not exist runs no query either. */
  readonly #missing = new Map<string, { until: number; error: unknown }>();
  /** Channel names per existing app, so a poll for a made-up channel runs no query. */
  readonly #channels = new Map<string, Promise<ReadonlySet<string>>>();

  constructor(registry: Registry, options: ManifestCacheOptions) {
    this.#registry = registry;
    this.#signer = options.signer;
    this.#appSigners = options.appSigners ?? {};
    this.#ttlMs = options.ttlMs ?? DEFAULT_MANIFEST_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#telemetryConfig = options.telemetryConfig;
  }

  /** The server's signer (apps without a key of their own). */
  get signer(): ManifestSigner {
    return this.#signer;
  }

  /** The signer of `app`'s manifests: its own key when it has one, else the server's. */
  signerFor(app: string): ManifestSigner {
    return Object.hasOwn(this.#appSigners, app) ? this.#appSigners[app]! : this.#signer;
  }

  /** Forgets every manifest: after missed change notifications, nothing cached can be trusted. */
  invalidateAll(): void {
    for (const [key, cached] of this.#ready) this.#fallback.set(key, cached);
    this.#cache.clear();
    this.#ready.clear();
    this.#missing.clear();
    this.#channels.clear();
  }

  /** Forgets every channel's manifest of `app`: the next poll builds them anew. */
  invalidate(app: string): void {
    const prefix = `${app}\n`;
    for (const [key, cached] of this.#ready) if (key.startsWith(prefix)) this.#fallback.set(key, cached);
    for (const map of [this.#cache, this.#ready]) {
      for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key);
    }
    this.#missing.delete(app);
    this.#channels.delete(app);
  }

  /** Stops retrying rebuilds (the app is closing). */
  close(): void {
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
  }

  /**
   * The built manifest of `app` without waiting, or undefined when it must be built (call `get`).
   * Also starts a re-issue when the manifest is past half its lifetime.
   */
  peek(app: string, channel = 'stable'): CachedManifest | undefined {
    const cached = this.#ready.get(keyOf(app, channel));
    if (cached) this.#reissueIfAging(app, cached);
    return cached;
  }

  async get(app: string, channel = 'stable'): Promise<CachedManifest> {
    const key = keyOf(app, channel);
    const missing = this.#missing.get(app);
    if (missing && missing.until > this.#now()) throw missing.error;
    if (channel !== 'stable' && !this.#ready.has(key) && !(await this.#channelsOf(app)).has(channel)) throw noChannel(app, channel);
    let entry = this.#cache.get(key);
    if (!entry) {
      entry = this.#build(app, channel);
      this.#cache.set(key, entry);
      // A failed build must not be remembered as a manifest; an unknown app is remembered briefly
      // (creating it invalidates at once), a database error not at all.
      entry.catch((error: unknown) => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
        if (error instanceof ServerError && error.code === 'not_found' && channel === 'stable') this.#rememberMissing(app, error);
      });
    }
    let cached: CachedManifest;
    try {
      cached = await entry;
    } catch (error) {
      const stale = this.#fallback.get(key);
      if (!stale || !infrastructureError(error)) throw error;
      // Signed and unexpired: better than no manifest while the database is away.
      if (!this.#cache.has(key)) this.#ready.set(key, stale);
      this.#retryLater(app, channel);
      return stale;
    }
    // Only the current build may become readable: an invalidation may have replaced it meanwhile.
    if (this.#cache.get(key) === entry) {
      this.#ready.set(key, cached);
      this.#fallback.delete(key);
    }
    this.#reissueIfAging(app, cached);
    return cached;
  }

  /** The app's channel names, read once per change of the app; 404 (remembered) for an unknown app. */
  #channelsOf(app: string): Promise<ReadonlySet<string>> {
    let names = this.#channels.get(app);
    if (!names) {
      const loading = this.#registry.manifestChannels(app).then((list) => new Set(list));
      names = loading;
      this.#channels.set(app, loading);
      loading.catch((error: unknown) => {
        if (this.#channels.get(app) === loading) this.#channels.delete(app);
        if (error instanceof ServerError && error.code === 'not_found') this.#rememberMissing(app, error);
      });
    }
    return names;
  }

  #rememberMissing(app: string, error: ServerError): void {
    this.#missing.set(app, { until: this.#now() + MISSING_TTL_MS, error });
    if (this.#missing.size > MAX_MISSING) this.#missing.delete(this.#missing.keys().next().value!);
  }

  /** Tries the rebuild of a manifest served stale again after a while (one timer per manifest). */
  #retryLater(app: string, channel: string): void {
    const key = keyOf(app, channel);
    if (this.#retries.has(key)) return;
    const timer = setTimeout(() => {
      this.#retries.delete(key);
      if (this.#ready.get(key) !== this.#fallback.get(key)) return; // rebuilt or invalidated meanwhile
      this.#ready.delete(key);
      this.get(app, channel).catch(() => undefined); // a failure schedules the next try
    }, REBUILD_RETRY_MS);
    timer.unref();
    this.#retries.set(key, timer);
  }

  /** Past half its lifetime, a manifest is re-issued in the background; polls keep the current one meanwhile. */
  #reissueIfAging(app: string, cached: CachedManifest): void {
    if (this.#now() < cached.issuedAtMs + this.#ttlMs / 2 || this.#reissuing.has(app)) return;
    this.#reissuing.add(app);
    void this.#registry
      .reissueManifest(app)
      .catch(() => undefined) // retried on the next poll
      .finally(() => this.#reissuing.delete(app));
  }

  async #build(app: string, channel: string): Promise<CachedManifest> {
    let state = await this.#registry.manifestState(app); // 404 for an unknown app
    if (this.#telemetryConfig) {
      // An app's first manifest issues its first telemetry config, which bumps the version (maybe in
      // a concurrent build): read the version again after it, so the config is never signed under
      // a version that does not include it.
      await this.#telemetryConfig(app);
      state = await this.#registry.manifestState(app);
    }
    // Each model's release on this channel, with variants, rules and rollout (registry/manifest-models.ts).
    const models = await this.#registry.manifestModels(app, channel);
    // Like the models, read after the version: a config issued meanwhile bumps it again and rebuilds.
    const telemetry = this.#telemetryConfig ? await this.#telemetryConfig(app) : undefined;
    // Channels are made by operators; a made-up name must not grow this cache.
    if (channel !== 'stable' && Object.keys(models).length === 0) throw noChannel(app, channel);
    const manifest = checked(app, channel, {
      schema: MANIFEST_SCHEMA_VERSION,
      app,
      version: state.version,
      issuedAt: state.issuedAt.toISOString(),
      ...(channel !== 'stable' && { channel }),
      expires: new Date(state.issuedAt.getTime() + this.#ttlMs).toISOString(),
      models,
      ...(telemetry !== undefined && { telemetry: checkedConfig(telemetry) }),
    });
    const envelope = this.signerFor(app).signManifest(manifest);
    return { manifest, issuedAtMs: state.issuedAt.getTime(), body: JSON.stringify(envelope), etag: `"m${state.version}-${envelope.signatures[0]!.sig.slice(0, 16)}"` };
  }
}

/**
 * What is signed is what devices parse: the manifest goes through the protocol's own parser first,
 * and one that devices would refuse is never signed (the poll answers 500 naming the field, and the
 * last good manifest of other apps and channels keeps being served).
 */
function checked(app: string, channel: string, manifest: Manifest): Manifest {
  try {
    return parseManifest(manifest);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ServerError('internal', `the manifest of app "${app}" (channel "${channel}") was not signed: devices would refuse it (${error.message})`, error.details);
  }
}

/** The config as the manifest carries it, validated before it is signed: a bad one is a server bug, never signed. */
function checkedConfig(config: TelemetryConfig): Record<string, unknown> {
  try {
    return { ...parseTelemetryConfig(config) };
  } catch (error) {
    throw new ServerError('internal', `refusing to sign an invalid telemetry config: ${TelemetryError.fromUnknown(error).message}`);
  }
}

function noChannel(app: string, channel: string): ServerError {
  return new ServerError('not_found', `app "${app}" has no channel "${channel}" with models; devices use "stable" unless told otherwise`);
}
