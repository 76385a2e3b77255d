import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_SCHEMA_VERSION, pinKeys, verifyManifestEnvelope, type Manifest } from '@edgeloop/protocol';
import { loadSigningKey, rotateSigningKey } from './signing-key.js';

const manifest = (version: number): Manifest => ({
  schema: MANIFEST_SCHEMA_VERSION,
  app: 'demo',
  version,
  issuedAt: '2026-11-25T00:00:00.000Z',
  expires: '2026-11-26T00:00:00.000Z',
  models: {},
});
const NOW = new Date('2026-11-25T01:00:00Z');

describe('manifest signing key', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-keys-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is created once with mode 0600 and reloaded on the next start', async () => {
    const first = await loadSigningKey({ dataDir });
    expect(first.created).toBe(true);
    expect((await stat(join(dataDir, 'keys', 'manifest-signing-key.pem'))).mode & 0o777).toBe(0o600);
    const second = await loadSigningKey({ dataDir });
    expect(second.created).toBe(false);
    expect(second.signer.key).toEqual(first.signer.key);
    const trust = await pinKeys([first.signer.key.publicKey]);
    await expect(verifyManifestEnvelope(second.signer.signManifest(manifest(1)), trust, NOW, { app: 'demo' })).resolves.toBeTruthy();
  });

  it('signs identical bytes for identical manifests (instances sharing a key agree)', async () => {
    const { signer } = await loadSigningKey({ dataDir });
    const { signer: again } = await loadSigningKey({ dataDir });
    expect(JSON.stringify(signer.signManifest(manifest(3)))).toBe(JSON.stringify(again.signManifest(manifest(3))));
  });

  it('rotates: clients pinning the old key follow the statement and then trust only the new key', async () => {
    const { signer: old } = await loadSigningKey({ dataDir });
    const { previous, next } = await rotateSigningKey(dataDir);
    expect(previous).toEqual(old.key);
    const { signer } = await loadSigningKey({ dataDir });
    expect(signer.key).toEqual(next);
    const verified = await verifyManifestEnvelope(signer.signManifest(manifest(2)), await pinKeys([old.key.publicKey]), NOW, { app: 'demo' });
    expect(verified.state.keys).toEqual([next]);
    await expect(verifyManifestEnvelope(old.signManifest(manifest(3)), verified.state, NOW, { app: 'demo' })).rejects.toMatchObject({ reason: 'unknown_key' });
  });

  it('finishes a rotation interrupted after its statement was written', async () => {
    await loadSigningKey({ dataDir });
    const { next } = await rotateSigningKey(dataDir);
    // Simulate the crash: the new key is still staged, the old one installed.
    const keys = join(dataDir, 'keys');
    await rename(join(keys, 'manifest-signing-key.pem'), join(keys, 'next-signing-key.pem'));
    const retired = (await readdir(keys)).find((file) => file.startsWith('retired-'))!;
    await writeFile(join(keys, 'manifest-signing-key.pem'), await readFile(join(keys, retired), 'utf8'));
    const { signer } = await loadSigningKey({ dataDir });
    expect(signer.key).toEqual(next);
  });

  it('refuses a configured key that the rotation chain does not lead to', async () => {
    const { signer: old } = await loadSigningKey({ dataDir });
    const oldPem = await readFile(join(dataDir, 'keys', 'manifest-signing-key.pem'), 'utf8');
    await rotateSigningKey(dataDir);
    await expect(loadSigningKey({ dataDir, privateKeyPem: oldPem })).rejects.toThrow(
      new RegExp(`signing key ${old.key.keyId.slice(0, 16)}… is not the key the last rotation hands over to`),
    );
    await expect(loadSigningKey({ dataDir, privateKeyPem: 'not a key' })).rejects.toThrow(/not a PKCS#8 PEM private key/);
  });
});
