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
}

export type TrustFailure =
  | 'malformed'
  | 'bad_signature'
  | 'unknown_key'
  | 'broken_rotation'
  | 'rollback'
  | 'version_reuse'
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
  return { keys, rotationSequence: 0, highestVersion: 0, highestDigest: null };
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
 * rotations from trusted keys, check the signature, then refuse rollback, version reuse and
 * (by flagging) expiry. Throws {@link TrustError} for anything that must not be trusted.
 */
export async function verifyManifestEnvelope(value: unknown, state: TrustState, now: Date): Promise<VerifiedManifest> {
  const parsed = signedEnvelopeSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TrustError('malformed', `the signed manifest is malformed: ${issues.join('; ')}`);
  }
  const envelope = parsed.data;
  const next: TrustState = { ...state, keys: [...state.keys] };
  await followRotations(envelope.rotations ?? [], next);

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
  const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', message)));
  if (manifest.version < state.highestVersion) {
    throw new TrustError('rollback', `manifest version ${manifest.version} is lower than version ${state.highestVersion} already trusted (rollback refused)`);
  }
  if (manifest.version === state.highestVersion && state.highestDigest !== null && digest !== state.highestDigest) {
    throw new TrustError('version_reuse', `manifest version ${manifest.version} was already trusted with different content`);
  }
  next.highestVersion = manifest.version;
  next.highestDigest = digest;
  return { manifest, state: next, expired: Date.parse(manifest.expires) <= now.getTime() };
}

async function followRotations(rotations: readonly RotationStatement[], state: TrustState): Promise<void> {
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
