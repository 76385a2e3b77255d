import { ProtocolError } from '../errors.js';
import { parseManifest, type Manifest } from '../manifest/manifest.js';
import { fromBase64, toHex } from './base64.js';
import { keyIdOf, signingBytes, verifyEd25519 } from './ed25519.js';
import { signedEnvelopeSchema, type PublicKeyInfo, type RotationStatement } from './envelope.js';

/** What a client trusts for one app, persisted between runs. */
export interface TrustState {
  /** Keys that may sign manifests now. Starts as the pinned keys; rotations replace them. */
  keys: PublicKeyInfo[];
  /** Highest rotation sequence followed. */
  rotationSequence: number;
  /** Highest manifest version accepted so far (0 before the first). */
  highestVersion: number;
  /** sha256 of the canonical manifest accepted at `highestVersion`: equal versions must be equal manifests. */
  highestDigest: string | null;
  /**
   * Ids of the keys the app pinned when this state was made (sorted). When the app pins other keys,
   * {@link repinKeys} starts again from the new pins. Absent in states saved before it existed.
   */
  pinned?: string[];
}

export type TrustFailure =
  | 'malformed'
  | 'bad_signature'
  | 'unknown_key'
  | 'broken_rotation'
  | 'rollback'
  | 'version_reuse'
  | 'wrong_app'
  | 'wrong_channel'
  | 'expired';

/** Raised when a signed manifest must not be trusted; `reason` says which rule it broke. */
export class TrustError extends ProtocolError {
  readonly reason: TrustFailure;
  constructor(reason: TrustFailure, message: string) {
    super('invalid_manifest', message);
    this.reason = reason;
  }
}

/** Builds the initial trust state from pinned base64 public keys. */
export async function pinKeys(publicKeys: readonly string[]): Promise<TrustState> {
  if (publicKeys.length === 0) throw new ProtocolError('invalid_argument', 'pin at least one public key');
  const keys = await Promise.all(
    publicKeys.map(async (publicKey) => {
      const raw = fromBase64(publicKey);
      if (raw.length !== 32) {
        throw new ProtocolError('invalid_argument', `pinned key ${publicKey.slice(0, 12)}… is not a 32-byte Ed25519 public key (base64)`);
      }
      return { keyId: await keyIdOf(raw), publicKey };
    }),
  );
  return { keys, rotationSequence: 0, highestVersion: 0, highestDigest: null, pinned: keys.map((key) => key.keyId).sort() };
}

/**
 * Applies the app's current pins to a persisted trust state, so a change of pinned keys takes effect
 * at once. Same pins: the state as it is (rotations followed from them stay followed). Other pins:
 * the new pins are trusted, nothing else — a key the app no longer pins, and keys reached by rotation
 * from it, stop being trusted. When that drops a key, the version ratchet starts again (see
 * {@link verifyManifestEnvelope}: fast-forward recovery). A state saved before pins were recorded
 * keeps the keys it followed rotations to, and records the pins.
 */
export function repinKeys(stored: TrustState, pins: TrustState): TrustState {
  const pinned = pins.pinned ?? pins.keys.map((key) => key.keyId).sort();
  const previous = stored.pinned ?? (stored.rotationSequence === 0 ? stored.keys.map((key) => key.keyId).sort() : null);
  if (previous === null) return { ...stored, pinned };
  if (previous.length === pinned.length && previous.every((id, i) => id === pinned[i])) return { ...stored, pinned };
  const lost = stored.keys.some((key) => !pins.keys.some((pin) => pin.keyId === key.keyId));
  return {
    keys: [...pins.keys],
    rotationSequence: 0,
    highestVersion: lost ? 0 : stored.highestVersion,
    highestDigest: lost ? null : stored.highestDigest,
    pinned,
  };
}

/** What the client expects a manifest to be for: the app it runs and the channel it follows (`stable` when absent). */
export interface ManifestTarget {
  app: string;
  channel?: string;
}

export interface VerifiedManifest {
  manifest: Manifest;
  /** The trust state to persist once the manifest has been acted on. */
  state: TrustState;
  /** The manifest has expired: keep running what is cached, report it stale, do not install from it. */
  expired: boolean;
}

/**
 * Verifies a signed manifest envelope against what the client trusts, in TUF's order: follow key
 * rotations from trusted keys, check the signature, check the manifest is for this client's app and
 * channel, then refuse rollback, version reuse and (by flagging) expiry. Throws {@link TrustError}
 * for anything that must not be trusted — including envelopes that cannot even be decoded (bad
 * base64, numbers JSON cannot sign), which are `malformed`.
 *
 * Fast-forward recovery (TUF client workflow, 5.3.11: when keys are rotated, the trusted metadata
 * they signed is deleted): when following the rotations in this envelope retires a key, the version
 * ratchet starts again from the new key's manifest. A stolen key that signed version 2^53 − 1 would
 * otherwise make every later genuine manifest a "rollback"; after the operator rotates away from it,
 * manifests by the new key are compared only with what the new key signed.
 */
export async function verifyManifestEnvelope(value: unknown, state: TrustState, now: Date, expected: ManifestTarget): Promise<VerifiedManifest> {
  try {
    return await verify(value, state, now, expected);
  } catch (error) {
    if (error instanceof TrustError) throw error;
    throw new TrustError('malformed', `the signed manifest is malformed: ${(error as Error).message}`);
  }
}

async function verify(value: unknown, state: TrustState, now: Date, expected: ManifestTarget): Promise<VerifiedManifest> {
  const parsed = signedEnvelopeSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TrustError('malformed', `the signed manifest is malformed: ${issues.join('; ')}`);
  }
  const envelope = parsed.data;
  const next: TrustState = { ...state, keys: [...state.keys] };
  await followRotations(envelope.rotations ?? [], next, expected.app);
  const retiredKey = state.keys.some((key) => !next.keys.some((kept) => kept.keyId === key.keyId));

  const message = signingBytes('manifest', envelope.signed);
  let verified = false;
  for (const signature of envelope.signatures) {
    const key = next.keys.find((candidate) => candidate.keyId === signature.keyId);
    if (!key) continue;
    if (!(await verifyEd25519(key.publicKey, message, signature.sig))) {
      throw new TrustError('bad_signature', `the manifest's signature by key ${signature.keyId.slice(0, 16)}… does not verify`);
    }
    verified = true;
  }
  if (!verified) {
    const named = envelope.signatures.map((signature) => signature.keyId.slice(0, 16)).join(', ');
    throw new TrustError('unknown_key', `the manifest is signed by ${named}…, none of which this client trusts; pin the server's public key`);
  }

  let manifest: Manifest;
  try {
    manifest = parseManifest(envelope.signed);
  } catch (error) {
    throw new TrustError('malformed', (error as Error).message);
  }
  // A key may sign for several apps and channels: the signed names, not the URL, say what this is for.
  if (manifest.app !== expected.app) {
    throw new TrustError('wrong_app', `the manifest is for app "${manifest.app}", this device runs app "${expected.app}"`);
  }
  const channel = manifest.channel ?? 'stable';
  const follows = expected.channel ?? 'stable';
  if (channel !== follows) {
    throw new TrustError('wrong_channel', `the manifest is for channel "${channel}", this device follows "${follows}"`);
  }
  const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', message)));
  const highestVersion = retiredKey ? 0 : state.highestVersion;
  const highestDigest = retiredKey ? null : state.highestDigest;
  if (manifest.version < highestVersion) {
    throw new TrustError('rollback', `manifest version ${manifest.version} is lower than version ${highestVersion} already trusted (rollback refused)`);
  }
  if (manifest.version === highestVersion && highestDigest !== null && digest !== highestDigest) {
    throw new TrustError('version_reuse', `manifest version ${manifest.version} was already trusted with different content`);
  }
  next.highestVersion = manifest.version;
  next.highestDigest = digest;
  return { manifest, state: next, expired: Date.parse(manifest.expires) <= now.getTime() };
}

async function followRotations(rotations: readonly RotationStatement[], state: TrustState, app: string): Promise<void> {
  const ordered = [...rotations].sort((a, b) => a.signed.sequence - b.signed.sequence);
  // A client that pinned a later key (a fresh install) is already past the statements up to the
  // last one that hands over to a key it trusts: it starts after those.
  let start = 0;
  ordered.forEach((statement, index) => {
    if (state.keys.some((key) => key.keyId === statement.signed.keyId)) start = index + 1;
  });
  for (const statement of ordered.slice(start)) {
    const { sequence, previousKeyId, keyId, publicKey } = statement.signed;
    if (sequence <= state.rotationSequence) continue; // already followed
    if (statement.signed.app !== undefined && statement.signed.app !== app) {
      throw new TrustError('broken_rotation', `key rotation ${sequence} hands over app "${statement.signed.app}"'s manifests, not app "${app}"'s`);
    }
    const previous = state.keys.find((key) => key.keyId === previousKeyId);
    if (!previous) {
      throw new TrustError('broken_rotation', `key rotation ${sequence} hands over from key ${previousKeyId.slice(0, 16)}…, which this client does not trust`);
    }
    const message = signingBytes('rotation', statement.signed);
    const byPrevious = statement.signatures.filter((signature) => signature.keyId === previousKeyId);
    const valid =
      byPrevious.length > 0 &&
      (await Promise.all(byPrevious.map((signature) => verifyEd25519(previous.publicKey, message, signature.sig)))).every(Boolean);
    if (!valid) throw new TrustError('broken_rotation', `key rotation ${sequence} is not validly signed by the key it retires`);
    if ((await keyIdOf(fromBase64(publicKey))) !== keyId) {
      throw new TrustError('broken_rotation', `key rotation ${sequence} names key id ${keyId.slice(0, 16)}… that does not match its public key`);
    }
    state.keys = [...state.keys.filter((key) => key.keyId !== previousKeyId), { keyId, publicKey }];
    state.rotationSequence = sequence;
  }
}
