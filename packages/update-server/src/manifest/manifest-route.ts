import type { Context } from 'hono';
import { isName, NAME_RULE } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';
import { corsResponseHeaders } from '../http/cors.js';
import { nodeIncoming, requestHeader } from '../http/node-request.js';
import { nameParam } from '../http/params.js';
import type { CachedManifest, ManifestCache } from './manifest-cache.js';

/**
 * `GET /v1/apps/:app/manifest[?channel=beta]`, the hottest path of the server: every device polls it. It is
 * answered from memory, synchronously once the manifest is built, and sets its CORS headers itself
 * rather than through the generic middleware (preflights still go through that). A poll with the
 * current ETag gets a 304 with no body.
 */
export function manifestHandler(manifests: ManifestCache, corsOrigins: string | readonly string[]) {
  const cors = corsResponseHeaders(corsOrigins, ['ETag']);
  const respond = (c: Context, cached: CachedManifest): Response => {
    const headers = cors({ ETag: cached.etag, 'Cache-Control': 'no-cache' }, requestHeader(c, 'origin'));
    if (requestHeader(c, 'if-none-match') === cached.etag) return c.body(null, 304, headers);
    headers['Content-Type'] = 'application/json; charset=utf-8';
    return c.body(cached.body, 200, headers);
  };
  // Not async: a poll for a built manifest is answered in the same tick, without a promise.
  return function serveManifest(c: Context): Response | Promise<Response> {
    const app = nameParam(c.req.param('app'), 'app');
    const channel = channelOf(c);
    const cached = manifests.peek(app, channel);
    if (cached) return respond(c, cached);
    return manifests.get(app, channel).then((built) => respond(c, built));
  };
}

/** `?channel=` when present (most polls have no query string: it is not parsed for them). */
function channelOf(c: Context): string {
  const incoming = nodeIncoming(c);
  const hasQuery = incoming?.url !== undefined ? incoming.url.includes('?') : c.req.url.includes('?');
  const value = hasQuery ? c.req.query('channel') : undefined;
  if (value === undefined) return 'stable';
  if (!isName(value)) throw new ServerError('bad_request', `query parameter "channel" must be ${NAME_RULE}; got ${JSON.stringify(value)}`);
  return value;
}
