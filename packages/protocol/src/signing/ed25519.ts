import { ProtocolError } from '../errors.js';
import { fromBase64, toHex } from './base64.js';
import { canonicalJson } from './canonical-json.js';
import { SIGNING_CONTEXT } from './envelope.js';

/** The exact bytes that are signed: a context line, then the canonical JSON of the document. */
export function signingBytes(kind: keyof typeof SIGNING_CONTEXT, signed: unknown): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(SIGNING_CONTEXT[kind] + canonicalJson(signed));
}

/** sha256 (hex) of a raw Ed25519 public key: how signatures name their key. */
export async function keyIdOf(publicKey: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', publicKey.slice())));
}

const importedKeys = new Map<string, Promise<CryptoKey>>();

/** Verifies an Ed25519 signature with WebCrypto (browsers, workers and Node ≥ 20 alike). */
export async function verifyEd25519(publicKeyBase64: string, message: Uint8Array<ArrayBuffer>, signatureBase64: string): Promise<boolean> {
  let key = importedKeys.get(publicKeyBase64);
  if (!key) {
    const raw = fromBase64(publicKeyBase64);
    if (raw.length !== 32) throw new ProtocolError('invalid_argument', `an Ed25519 public key is 32 bytes, got ${raw.length}`);
    const imported = crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
    imported.catch(() => importedKeys.delete(publicKeyBase64));
    importedKeys.set(publicKeyBase64, imported);
    key = imported;
  }
  const signature = fromBase64(signatureBase64);
  if (signature.length !== 64) return false;
  return crypto.subtle.verify({ name: 'Ed25519' }, await key, signature, message);
}
