import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ServerError } from '../errors.js';

/** Admin JSON bodies (rollouts, channels, tokens): far more than any of them needs. */
export const ADMIN_JSON_BODY_BYTES = 1024 * 1024;
/** A reference profile may be sent as reference samples (up to 1,000,000 values per feature). */
export const PROFILE_BODY_BYTES = 32 * 1024 * 1024;

const tooLarge = (maxBytes: number, hint: string) => () => {
  throw new ServerError('payload_too_large', `admin request bodies here are limited to ${maxBytes} bytes; ${hint}`);
};

/**
 * Limits admin request bodies before a validator reads them: a declared Content-Length over the
 * limit is answered 413 at once, a chunked body as soon as it passes the limit. Model uploads
 * (`application/octet-stream`) are left to the registry, which streams them to disk under
 * `maxUploadBytes`.
 */
export function adminBodyLimit(): MiddlewareHandler {
  const json = bodyLimit({ maxSize: ADMIN_JSON_BODY_BYTES, onError: tooLarge(ADMIN_JSON_BODY_BYTES, 'model files go to the upload routes as application/octet-stream') });
  const profile = bodyLimit({ maxSize: PROFILE_BODY_BYTES, onError: tooLarge(PROFILE_BODY_BYTES, 'send fewer reference samples, or a computed profile') });
  return async function limitAdminBody(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (c.req.header('content-type')?.startsWith('application/octet-stream')) return next();
    if (c.req.method === 'PUT' && c.req.path.endsWith('/profile')) return profile(c, next);
    return json(c, next);
  };
}
