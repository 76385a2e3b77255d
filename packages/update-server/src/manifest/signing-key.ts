import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  isName,
  NAME_RULE,
  rotationStatementSchema,
  signingBytes,
  toBase64,
  type PublicKeyInfo,
  type RotationStatement,
  type SignedEnvelope,
} from '@edgeloop/protocol';
import { ServerError } from '../errors.js';

/** Signs manifests with one Ed25519 key and carries the rotation history that leads to it. */
export interface ManifestSigner {
  readonly key: PublicKeyInfo;
  readonly rotations: readonly RotationStatement[];
  signManifest(manifest: Record<string, unknown>): SignedEnvelope;
}

function fromPrivateKey(privateKey: KeyObject, keyId: string, rotations: readonly RotationStatement[]): ManifestSigner {
  const raw = publicRaw(privateKey);
  const key = { keyId, publicKey: toBase64(raw) };
  return {
    key,
    rotations,
    signManifest(manifest) {
      // Ed25519 signatures are deterministic: every instance with this key signs identical bytes.
      const sig = sign(null, signingBytes('manifest', manifest), privateKey);
      return {
        signed: manifest,
        signatures: [{ keyId, sig: toBase64(new Uint8Array(sig)) }],
        ...(rotations.length > 0 && { rotations: [...rotations] }),
      };
    },
  };
}

function publicRaw(privateKey: KeyObject): Uint8Array {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

/** sha256 (hex) of the raw public key, as `keyIdOf` in @edgeloop/protocol computes it. */
function keyIdOf(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** A signer with a fresh in-memory key: for tests and throwaway servers. */
export function ephemeralSigner(): ManifestSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  return fromPrivateKey(privateKey, keyIdOf(publicRaw(privateKey)), []);
}

export interface SigningKeyOptions {
  /** The data directory; the key lives in `<dataDir>/keys/` (an app's own key in `keys/apps/<app>/`). */
  dataDir: string;
  /** A PKCS#8 PEM private key to use instead of the stored one (file contents or env). */
  privateKeyPem?: string;
  /** The app whose own key to load (created with {@link createAppSigningKey}); the server's key when absent. */
  app?: string;
}

/** Where a key and its rotations live: `<dataDir>/keys`, or `<dataDir>/keys/apps/<app>` for an app's own key. */
function keyDir(dataDir: string, app: string | undefined): string {
  if (app === undefined) return join(dataDir, 'keys');
  if (!isName(app)) throw new ServerError('bad_request', `app must be ${NAME_RULE}; got ${JSON.stringify(app)}`);
  return join(dataDir, 'keys', 'apps', app);
}

const KEY_FILE = 'manifest-signing-key.pem';
const ROTATIONS_FILE = 'rotations.json';
const NEXT_KEY_FILE = 'next-signing-key.pem';

/**
 * Loads the manifest signing key: the PEM given, else `<dataDir>/keys/manifest-signing-key.pem`,
 * created (mode 0600) on first start. Rotation statements are read from `keys/rotations.json`.
 */
export async function loadSigningKey(options: SigningKeyOptions): Promise<{ signer: ManifestSigner; created: boolean }> {
  const dir = keyDir(options.dataDir, options.app);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let pem = options.privateKeyPem;
  let created = false;
  if (pem === undefined) {
    try {
      pem = await readFile(join(dir, KEY_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (options.app !== undefined) {
        throw new ServerError('not_found', `app "${options.app}" has no signing key of its own; create one with "edgeloop keys create --app ${options.app}"`);
      }
      pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      await writeAtomic(join(dir, KEY_FILE), pem, 0o600);
      created = true;
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new ServerError('bad_request', `the manifest signing key is not a PKCS#8 PEM private key: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ServerError('bad_request', `the manifest signing key must be Ed25519, got ${privateKey.asymmetricKeyType}`);
  }
  if (options.privateKeyPem === undefined) privateKey = await finishInterruptedRotation(dir, privateKey);
  const rotations = await readRotations(dir);
  const keyId = keyIdOf(publicRaw(privateKey));
  const last = rotations.at(-1);
  if (last && last.signed.keyId !== keyId) {
    throw new ServerError(
      'internal',
      `the signing key ${keyId.slice(0, 16)}… is not the key the last rotation hands over to (${last.signed.keyId.slice(0, 16)}…); clients following the rotations would refuse its manifests`,
    );
  }
  return { signer: fromPrivateKey(privateKey, keyId, rotations), created };
}

/** Completes a rotation that crashed after writing its statement but before installing the new key. */
async function finishInterruptedRotation(dir: string, current: KeyObject): Promise<KeyObject> {
  let stagedPem: string;
  try {
    stagedPem = await readFile(join(dir, NEXT_KEY_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return current;
    throw error;
  }
  const staged = createPrivateKey(stagedPem);
  const stagedId = keyIdOf(publicRaw(staged));
  if ((await readRotations(dir)).at(-1)?.signed.keyId === stagedId) {
    await rename(join(dir, NEXT_KEY_FILE), join(dir, KEY_FILE));
    return staged;
  }
  await rm(join(dir, NEXT_KEY_FILE), { force: true }); // the statement was never written: no rotation happened
  return current;
}

/**
 * Replaces the stored signing key with a new one and records a statement, signed by the old key,
 * that hands trust over to it. Clients that trust the old key follow the statement.
 */
export async function rotateSigningKey(dataDir: string, options: { app?: string } = {}): Promise<{ previous: PublicKeyInfo; next: PublicKeyInfo }> {
  const dir = keyDir(dataDir, options.app);
  const { signer: old } = await loadSigningKey({ dataDir, ...(options.app !== undefined && { app: options.app }) });
  const oldPem = await readFile(join(dir, KEY_FILE), 'utf8');
  const oldKey = createPrivateKey(oldPem);
  const { privateKey } = generateKeyPairSync('ed25519');
  const raw = publicRaw(privateKey);
  const next = { keyId: keyIdOf(raw), publicKey: toBase64(raw) };
  const rotations = await readRotations(dir);
  const signed = {
    type: 'edgeloop/key-rotation' as const,
    sequence: rotations.length + 1,
    previousKeyId: old.key.keyId,
    keyId: next.keyId,
    publicKey: next.publicKey,
    issuedAt: new Date().toISOString(),
    ...(options.app !== undefined && { app: options.app }),
  };
  const statement: RotationStatement = {
    signed,
    signatures: [{ keyId: old.key.keyId, sig: toBase64(new Uint8Array(sign(null, signingBytes('rotation', signed), oldKey))) }],
  };
  // Stage the key, write the statement, then install the key. A crash at any point is finished or
  // undone on the next start (finishInterruptedRotation): the served key always matches the chain.
  await writeAtomic(join(dir, NEXT_KEY_FILE), privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  await writeAtomic(join(dir, `retired-${old.key.keyId.slice(0, 16)}.pem`), oldPem, 0o600);
  await writeAtomic(join(dir, ROTATIONS_FILE), JSON.stringify([...rotations, statement], null, 2), 0o644);
  await rename(join(dir, NEXT_KEY_FILE), join(dir, KEY_FILE));
  return { previous: old.key, next };
}

/**
 * Gives `app` a signing key of its own, in `<dataDir>/keys/apps/<app>/`. Its rotation history is
 * the server key's, then a statement signed by the server key that hands `app`'s manifests (only
 * those) over to the new key: devices that pin the server key follow it, and from then on trust
 * only the app's key for that app, while other apps' devices refuse the hand-over. Restart the
 * server (every instance) to sign the app's manifests with it.
 */
export async function createAppSigningKey(dataDir: string, app: string): Promise<{ previous: PublicKeyInfo; next: PublicKeyInfo }> {
  const dir = keyDir(dataDir, app);
  const existing = await readFile(join(dir, KEY_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (existing !== null) throw new ServerError('conflict', `app "${app}" already has its own signing key; rotate it with "edgeloop keys rotate --app ${app}"`);
  const { signer: server } = await loadSigningKey({ dataDir });
  const serverKey = createPrivateKey(await readFile(join(dataDir, 'keys', KEY_FILE), 'utf8'));
  const { privateKey } = generateKeyPairSync('ed25519');
  const raw = publicRaw(privateKey);
  const next = { keyId: keyIdOf(raw), publicKey: toBase64(raw) };
  const signed = {
    type: 'edgeloop/key-rotation' as const,
    sequence: server.rotations.length + 1,
    previousKeyId: server.key.keyId,
    keyId: next.keyId,
    publicKey: next.publicKey,
    issuedAt: new Date().toISOString(),
    app,
  };
  const statement: RotationStatement = {
    signed,
    signatures: [{ keyId: server.key.keyId, sig: toBase64(new Uint8Array(sign(null, signingBytes('rotation', signed), serverKey))) }],
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The statement first, then the key: a crash between leaves no key, which loadSigningKey reports
  // and which running this command again completes (it starts over).
  await writeAtomic(join(dir, ROTATIONS_FILE), JSON.stringify([...server.rotations, statement], null, 2), 0o644);
  await writeAtomic(join(dir, KEY_FILE), privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  return { previous: server.key, next };
}

/** Every app's own signing key under `<dataDir>/keys/apps/`, by app. */
export async function loadAppSigningKeys(dataDir: string): Promise<Record<string, ManifestSigner>> {
  let apps: string[];
  try {
    apps = await readdir(join(dataDir, 'keys', 'apps'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const signers: Record<string, ManifestSigner> = {};
  for (const app of apps.filter(isName).sort()) signers[app] = (await loadSigningKey({ dataDir, app })).signer;
  return signers;
}

async function readRotations(dir: string): Promise<RotationStatement[]> {
  let text: string;
  try {
    text = await readFile(join(dir, ROTATIONS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const parsed = rotationStatementSchema.array().safeParse(JSON.parse(text));
  if (!parsed.success) throw new ServerError('internal', `${join(dir, ROTATIONS_FILE)} is not a list of rotation statements`);
  return parsed.data;
}

async function writeAtomic(path: string, contents: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, contents, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
