import { Hono } from 'hono';
import { nameParam } from '../http/params.js';
import type { ManifestSigner } from './signing-key.js';

/**
 * `GET /v1/keys`: the server's signing key and the rotations that lead to it; `GET /v1/apps/:app/keys`:
 * the key that signs that app's manifests (its own key when it has one, else the server's). Clients
 * must pin a key out of band (config, app bundle); these are for operators, trust on first use, and
 * following rotations.
 */
export function keysRoute(signers: { default: ManifestSigner; forApp(app: string): ManifestSigner }): Hono {
  const route = new Hono();
  const bodies = new WeakMap<ManifestSigner, string>();
  const bodyOf = (signer: ManifestSigner) => {
    let body = bodies.get(signer);
    if (body === undefined) {
      body = JSON.stringify({ keys: [signer.key], rotations: signer.rotations });
      bodies.set(signer, body);
    }
    return body;
  };
  const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' };
  route.get('/keys', (c) => c.body(bodyOf(signers.default), 200, headers));
  route.get('/apps/:app/keys', (c) => c.body(bodyOf(signers.forApp(nameParam(c.req.param('app'), 'app'))), 200, headers));
  return route;
}
