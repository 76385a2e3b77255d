import { describe, expect, it } from 'vitest';
import { MANIFEST_SCHEMA_VERSION, type Manifest } from '../manifest/manifest.js';
import { toBase64 } from './base64.js';
import { keyIdOf, signingBytes } from './ed25519.js';
import type { RotationStatement, SignedEnvelope } from './envelope.js';
import { pinKeys, repinKeys, verifyManifestEnvelope as verifyFor, type TrustState } from './trust.js';

interface TestKey {
  keyId: string;
  publicKey: string;
  sign(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
}

async function newKey(): Promise<TestKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    keyId: await keyIdOf(raw),
    publicKey: toBase64(raw),
    sign: async (bytes) => toBase64(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, bytes))),
  };
}

const NOW = new Date('2026-11-25T12:00:00Z');
/** The checks for a client of app `demo` on `stable`, as the runtime asks for them. */
const verifyManifestEnvelope = (value: unknown, state: TrustState, now: Date) => verifyFor(value, state, now, { app: 'demo' });
function manifest(version: number, overrides: Partial<Manifest> = {}): Manifest {
  return {
    schema: MANIFEST_SCHEMA_VERSION,
    app: 'demo',
    version,
    issuedAt: '2026-11-25T11:00:00.000Z',
    expires: '2026-12-02T11:00:00.000Z',
    models: {},
    ...overrides,
  };
}
async function sign(m: Manifest, key: TestKey, rotations?: RotationStatement[]): Promise<SignedEnvelope> {
  return { signed: m, signatures: [{ keyId: key.keyId, sig: await key.sign(signingBytes('manifest', m)) }], ...(rotations && { rotations }) };
}
async function rotate(from: TestKey, to: TestKey, sequence: number, signer = from, app?: string): Promise<RotationStatement> {
  const signed = { type: 'edgeloop/key-rotation' as const, sequence, previousKeyId: from.keyId, keyId: to.keyId, publicKey: to.publicKey, issuedAt: NOW.toISOString(), ...(app && { app }) };
  return { signed, signatures: [{ keyId: from.keyId, sig: await signer.sign(signingBytes('rotation', signed)) }] };
}

describe('verifyManifestEnvelope', () => {
  it('accepts a manifest signed by a pinned key and records its version', async () => {
    const key = await newKey();
    const result = await verifyManifestEnvelope(await sign(manifest(3), key), await pinKeys([key.publicKey]), NOW);
    expect(result.manifest.version).toBe(3);
    expect(result.expired).toBe(false);
    expect(result.state.highestVersion).toBe(3);
  });

  it('verifies regardless of key order in the JSON it received (canonical signing bytes)', async () => {
    const key = await newKey();
    const envelope = await sign(manifest(1), key);
    const reordered = JSON.parse(JSON.stringify({ ...envelope, signed: Object.fromEntries(Object.entries(envelope.signed).reverse()) }));
    await expect(verifyManifestEnvelope(reordered, await pinKeys([key.publicKey]), NOW)).resolves.toBeTruthy();
  });

  it('refuses a tampered manifest, an unknown key, rollback and version reuse', async () => {
    const key = await newKey();
    const other = await newKey();
    const state = await pinKeys([key.publicKey]);
    const tampered = await sign(manifest(2), key);
    (tampered.signed as { version: number }).version = 9;
    await expect(verifyManifestEnvelope(tampered, state, NOW)).rejects.toMatchObject({ reason: 'bad_signature' });
    await expect(verifyManifestEnvelope(await sign(manifest(2), other), state, NOW)).rejects.toMatchObject({ reason: 'unknown_key' });

    const accepted = (await verifyManifestEnvelope(await sign(manifest(5), key), state, NOW)).state;
    await expect(verifyManifestEnvelope(await sign(manifest(4), key), accepted, NOW)).rejects.toMatchObject({
      reason: 'rollback',
      message: 'manifest version 4 is lower than version 5 already trusted (rollback refused)',
    });
    await expect(verifyManifestEnvelope(await sign(manifest(5, { issuedAt: '2026-11-25T11:30:00.000Z' }), key), accepted, NOW)).rejects.toMatchObject({
      reason: 'version_reuse',
    });
    await expect(verifyManifestEnvelope(await sign(manifest(5), key), accepted, NOW)).resolves.toBeTruthy();
  });

  it('flags an expired manifest instead of trusting it fresh', async () => {
    const key = await newKey();
    const result = await verifyManifestEnvelope(await sign(manifest(1, { expires: '2026-11-25T11:59:59.000Z' }), key), await pinKeys([key.publicKey]), NOW);
    expect(result.expired).toBe(true);
  });

  it('refuses versions above 2^53 − 1 and malformed envelopes', async () => {
    const key = await newKey();
    const state = await pinKeys([key.publicKey]);
    const huge = JSON.parse(JSON.stringify(await sign(manifest(1), key)).replace('"version":1', '"version":9007199254740993'));
    await expect(verifyManifestEnvelope(huge, state, NOW)).rejects.toMatchObject({ reason: expect.stringMatching(/bad_signature|malformed/) });
    const signedHuge = await sign({ ...manifest(1), version: 2 ** 53 } as Manifest, key);
    await expect(verifyManifestEnvelope(signedHuge, state, NOW)).rejects.toMatchObject({ reason: 'malformed' });
    await expect(verifyManifestEnvelope({ signed: {}, signatures: [] }, state, NOW)).rejects.toMatchObject({ reason: 'malformed' });
  });

  it('follows a rotation chain signed by the old keys, then trusts only the new key', async () => {
    const [k1, k2, k3] = [await newKey(), await newKey(), await newKey()];
    const chain = [await rotate(k1, k2, 1), await rotate(k2, k3, 2)];
    const result = await verifyManifestEnvelope(await sign(manifest(1), k3, chain), await pinKeys([k1.publicKey]), NOW);
    expect(result.state.keys.map((k) => k.keyId)).toEqual([k3.keyId]);
    expect(result.state.rotationSequence).toBe(2);
    // The retired key can no longer sign for this client.
    await expect(verifyManifestEnvelope(await sign(manifest(2), k1), result.state, NOW)).rejects.toMatchObject({ reason: 'unknown_key' });
    // A client that pinned the newest key skips the history.
    await expect(verifyManifestEnvelope(await sign(manifest(1), k3, chain), await pinKeys([k3.publicKey]), NOW)).resolves.toBeTruthy();
  });

  it('refuses a broken rotation chain', async () => {
    const [k1, k2, attacker] = [await newKey(), await newKey(), await newKey()];
    const state: TrustState = await pinKeys([k1.publicKey]);
    const forged = await rotate(k1, attacker, 1, attacker);
    await expect(verifyManifestEnvelope(await sign(manifest(1), attacker, [forged]), state, NOW)).rejects.toMatchObject({ reason: 'broken_rotation' });
    const gap = await rotate(k2, attacker, 2);
    await expect(verifyManifestEnvelope(await sign(manifest(1), attacker, [gap]), state, NOW)).rejects.toMatchObject({ reason: 'broken_rotation' });
  });

  it('binds the manifest to its app and channel: another app\'s or channel\'s manifest signed by the same key is refused', async () => {
    const key = await newKey();
    const state = await pinKeys([key.publicKey]);
    // App B's manifest, signed by the key that signs every app, served at app A's URL:
    const other = await sign(manifest(1_000, { app: 'other' }), key);
    await expect(verifyFor(other, state, NOW, { app: 'demo' })).rejects.toMatchObject({
      reason: 'wrong_app',
      message: 'the manifest is for app "other", this device runs app "demo"',
    });
    const beta = await sign(manifest(2, { channel: 'beta' }), key);
    await expect(verifyFor(beta, state, NOW, { app: 'demo' })).rejects.toMatchObject({ reason: 'wrong_channel' });
    await expect(verifyFor(beta, state, NOW, { app: 'demo', channel: 'beta' })).resolves.toBeTruthy();
    // Nothing was ratcheted: A's genuine manifest at a lower version than B's is accepted.
    await expect(verifyFor(await sign(manifest(3), key), state, NOW, { app: 'demo' })).resolves.toMatchObject({ state: { highestVersion: 3 } });
  });

  it('calls an envelope it cannot decode malformed, never another error (bad base64, non-finite numbers)', async () => {
    const key = await newKey();
    const state = await pinKeys([key.publicKey]);
    const good = await sign(manifest(1), key);
    const badBase64 = { ...good, signatures: [{ keyId: key.keyId, sig: 'abcde' }] };
    await expect(verifyManifestEnvelope(badBase64, state, NOW)).rejects.toMatchObject({ name: 'ProtocolError', reason: 'malformed' });
    // JSON.parse('1e400') is Infinity: canonical JSON cannot represent it.
    const nonFinite = JSON.parse(JSON.stringify(good).replace('"version":1', '"version":1e400'));
    await expect(verifyManifestEnvelope(nonFinite, state, NOW)).rejects.toMatchObject({ reason: 'malformed' });
    const next = await newKey();
    const rotation = await rotate(key, next, 1);
    const badRotation = { ...(await sign(manifest(1), next)), rotations: [{ ...rotation, signed: { ...rotation.signed, publicKey: 'abcde' } }] };
    await expect(verifyManifestEnvelope(badRotation, state, NOW)).rejects.toMatchObject({ reason: expect.stringMatching(/malformed|broken_rotation/) });
  });

  it('recovers from a fast-forward attack once the stolen key is rotated away (TUF 5.3.11)', async () => {
    const [stolen, next] = [await newKey(), await newKey()];
    const pinned = await pinKeys([stolen.publicKey]);
    const genuine = (await verifyManifestEnvelope(await sign(manifest(40), stolen), pinned, NOW)).state;
    // The thief signs the largest version there is; every device that sees it ratchets up to it.
    const attacked = (await verifyManifestEnvelope(await sign(manifest(Number.MAX_SAFE_INTEGER), stolen), genuine, NOW)).state;
    await expect(verifyManifestEnvelope(await sign(manifest(41), stolen), attacked, NOW)).rejects.toMatchObject({ reason: 'rollback' });
    // The operator rotates to a new key: the ratchet restarts with what the new key signs.
    const rotations = [await rotate(stolen, next, 1)];
    const recovered = await verifyManifestEnvelope(await sign(manifest(41), next, rotations), attacked, NOW);
    expect(recovered.state).toMatchObject({ highestVersion: 41, keys: [{ keyId: next.keyId }] });
    // From there on rollback protection holds again, and the stolen key signs nothing.
    await expect(verifyManifestEnvelope(await sign(manifest(40), next, rotations), recovered.state, NOW)).rejects.toMatchObject({ reason: 'rollback' });
    await expect(verifyManifestEnvelope(await sign(manifest(50), stolen, rotations), recovered.state, NOW)).rejects.toMatchObject({ reason: 'unknown_key' });
  });
});

describe('per-app keys', () => {
  it('follows a hand-over bound to its own app, and refuses one bound to another app', async () => {
    const [shared, demoKey] = [await newKey(), await newKey()];
    const handover = [await rotate(shared, demoKey, 1, shared, 'demo')];
    const pinned = await pinKeys([shared.publicKey]);
    const demo = await verifyFor(await sign(manifest(1), demoKey, handover), pinned, NOW, { app: 'demo' });
    expect(demo.state.keys).toEqual([{ keyId: demoKey.keyId, publicKey: demoKey.publicKey }]);
    // A device of app "other" pinned to the shared key, shown demo's key and hand-over:
    const forOther = await sign(manifest(1, { app: 'other' }), demoKey, handover);
    await expect(verifyFor(forOther, pinned, NOW, { app: 'other' })).rejects.toMatchObject({ reason: 'broken_rotation', message: expect.stringMatching(/hands over app "demo"'s manifests, not app "other"'s/) });
  });
});

describe('repinKeys', () => {
  it('applies a change of pinned keys at once: an unpinned key signs nothing more', async () => {
    const [k1, k2] = [await newKey(), await newKey()];
    const both = await pinKeys([k1.publicKey, k2.publicKey]);
    const accepted = (await verifyManifestEnvelope(await sign(manifest(7), k1), both, NOW)).state;
    // The app ships an update that pins K2 alone.
    const repinned = repinKeys(accepted, await pinKeys([k2.publicKey]));
    await expect(verifyManifestEnvelope(await sign(manifest(8), k1), repinned, NOW)).rejects.toMatchObject({ reason: 'unknown_key' });
    // A dropped key may have fast-forwarded the version: the ratchet restarts with the remaining keys.
    expect(repinned).toMatchObject({ highestVersion: 0, highestDigest: null });
    await expect(verifyManifestEnvelope(await sign(manifest(3), k2), repinned, NOW)).resolves.toBeTruthy();
  });

  it('keeps the state for the same pins (rotations followed stay followed) and the ratchet when keys are only added', async () => {
    const [k1, k2, k3] = [await newKey(), await newKey(), await newKey()];
    const pins = await pinKeys([k1.publicKey]);
    const rotated = (await verifyManifestEnvelope(await sign(manifest(5), k2, [await rotate(k1, k2, 1)]), pins, NOW)).state;
    expect(repinKeys(rotated, await pinKeys([k1.publicKey]))).toEqual(rotated);
    const added = repinKeys(rotated, await pinKeys([k2.publicKey, k3.publicKey]));
    expect(added).toMatchObject({ highestVersion: 5, keys: [{ keyId: expect.any(String) }, { keyId: expect.any(String) }] });
    await expect(verifyManifestEnvelope(await sign(manifest(4), k3), added, NOW)).rejects.toMatchObject({ reason: 'rollback' });
    // A state saved before pins were recorded, with no rotation followed: its keys were the pins.
    const { pinned: _pinned, ...legacy } = await pinKeys([k1.publicKey]);
    await expect(verifyManifestEnvelope(await sign(manifest(1), k1), repinKeys(legacy, await pinKeys([k2.publicKey])), NOW)).rejects.toMatchObject({ reason: 'unknown_key' });
  });
});
