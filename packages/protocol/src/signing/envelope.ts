import { z } from 'zod';
import { nameSchema } from '../names.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').max(4096);

export const signatureSchema = z.object({
  /** sha256 (hex) of the raw 32-byte Ed25519 public key that made the signature. */
  keyId: hex64,
  /** Ed25519 signature, base64. */
  sig: base64,
});
export type Signature = z.infer<typeof signatureSchema>;

/** A public key as clients pin it: the raw 32-byte Ed25519 key, base64, and its id. */
export const publicKeySchema = z.object({ keyId: hex64, publicKey: base64 });
export type PublicKeyInfo = z.infer<typeof publicKeySchema>;

/**
 * "The key `previousKeyId` hands over to `keyId`", signed by the previous key. A client that trusts
 * the previous key follows the statement and from then on trusts only the new one (as TUF root
 * rotation does), so a retired key cannot sign manifests that client accepts.
 */
export const rotationStatementSchema = z.object({
  signed: z.object({
    type: z.literal('edgeloop/key-rotation'),
    /** 1 for the first rotation of a server, then +1 each time. */
    sequence: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    previousKeyId: hex64,
    keyId: hex64,
    publicKey: base64,
    issuedAt: z.iso.datetime(),
    /**
     * When present, the hand-over holds for this app's manifests only (a server that gives an app
     * its own key hands it over from the shared key so): clients of other apps refuse to follow it.
     */
    app: nameSchema.optional(),
  }),
  signatures: z.array(signatureSchema).min(1).max(8),
});
export type RotationStatement = z.infer<typeof rotationStatementSchema>;

/**
 * What the server sends for a manifest: the manifest itself under `signed`, its signatures, and the
 * key rotations a client may need to reach the signing key from a key it pins.
 */
export const signedEnvelopeSchema = z.object({
  signed: z.record(z.string(), z.unknown()),
  signatures: z.array(signatureSchema).min(1).max(8),
  rotations: z.array(rotationStatementSchema).max(64).optional(),
});
export type SignedEnvelope = z.infer<typeof signedEnvelopeSchema>;

/** Domain separation: a signature over a manifest can never be replayed as a rotation, or back. */
export const SIGNING_CONTEXT = {
  manifest: 'edgeloop/manifest/v1\n',
  rotation: 'edgeloop/key-rotation/v1\n',
} as const;
