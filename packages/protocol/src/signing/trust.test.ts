import { describe, expect, it } from 'vitest';
import { MANIFEST_SCHEMA_VERSION, type Manifest } from '../manifest/manifest.js';
import { toBase64 } from './base64.js';
import { keyIdOf, signingBytes } from './ed25519.js';
import type { RotationStatement, SignedEnvelope } from './envelope.js';
import { pinKeys, verifyManifestEnvelope, type TrustState } from './trust.js';

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
async function rotate(from: TestKey, to: TestKey, sequence: number, signer = from): Promise<RotationStatement> {
  const signed = { type: 'edgeloop/key-rotation' as const, sequence, previousKeyId: from.keyId, keyId: to.keyId, publicKey: to.publicKey, issuedAt: NOW.toISOString() };
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
});
