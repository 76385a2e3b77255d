import { fromBase64, keyIdOf, pinKeys, publicKeySchema, signedEnvelopeSchema, type TrustState } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';

/**
 * Whom the runtime trusts to sign manifests. Pin the server's Ed25519 public key(s) (base64, as
 * `edgeloop serve` prints and `GET /v1/keys` serves). `trustOnFirstUse` pins whatever key signs the
 * first manifest seen — convenient for demos, and only as safe as that first connection.
 */
export type TrustOptions = { publicKeys: readonly string[] } | { trustOnFirstUse: true };

export async function initialTrust(options: TrustOptions): Promise<TrustState | null> {
  if ('publicKeys' in options) {
    try {
      return await pinKeys(options.publicKeys);
    } catch (error) {
      throw new RuntimeError('invalid_argument', `trust.publicKeys: ${(error as Error).message}`, { cause: error });
    }
  }
  return null;
}

/** Trust on first use: pin the key that signed this envelope, fetched from the server's key list. */
export async function trustFirstSigner(envelope: unknown, keysUrl: string, fetchImpl: typeof fetch): Promise<TrustState> {
  const parsed = signedEnvelopeSchema.safeParse(envelope);
  if (!parsed.success) throw new RuntimeError('untrusted', 'the first manifest is not a signed envelope; nothing to trust');
  const keyId = parsed.data.signatures[0]!.keyId;
  let keys: unknown;
  try {
    keys = await (await fetchImpl(keysUrl)).json();
  } catch (error) {
    throw new RuntimeError('network', `could not read the server's keys at ${keysUrl}: ${(error as Error).message}`, { cause: error });
  }
  const list = publicKeySchema.array().safeParse((keys as { keys?: unknown } | null)?.keys);
  const key = list.success ? list.data.find((candidate) => candidate.keyId === keyId) : undefined;
  if (!key || (await keyIdOf(fromBase64(key.publicKey))) !== keyId) {
    throw new RuntimeError('untrusted', `the server does not list the key ${keyId.slice(0, 16)}… that signed its manifest`);
  }
  return pinKeys([key.publicKey]);
}
