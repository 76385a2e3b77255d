import { Hono } from 'hono';
import type { ManifestSigner } from './signing-key.js';

/**
 * `GET /v1/keys`: the key that signs manifests now and the rotations that lead to it. Clients must
 * pin a key out of band (config, app bundle); this is for operators and for following rotations.
 */
export function keysRoute(signer: ManifestSigner): Hono {
  const route = new Hono();
  const body = JSON.stringify({ keys: [signer.key], rotations: signer.rotations });
  route.get('/keys', (c) => c.body(body, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' }));
  return route;
}
