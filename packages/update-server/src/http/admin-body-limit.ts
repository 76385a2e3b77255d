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

/** The media types the JSON validator reads (hono's own rule); it reads no other body. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Limits admin JSON bodies before the validator reads them: a declared Content-Length over the
 * limit is answered 413 at once, a chunked body as soon as it passes the limit. Other bodies are
 * not read by the validator; model uploads stream to disk under `maxUploadBytes` and refuse any
 * type but `application/octet-stream` (415) before reading.
 */
export function adminBodyLimit(): MiddlewareHandler {
  const json = bodyLimit({ maxSize: ADMIN_JSON_BODY_BYTES, onError: tooLarge(ADMIN_JSON_BODY_BYTES, 'model files go to the upload routes as application/octet-stream') });
  const profile = bodyLimit({ maxSize: PROFILE_BODY_BYTES, onError: tooLarge(PROFILE_BODY_BYTES, 'send fewer reference samples, or a computed profile') });
  return async function limitAdminBody(c, next) {
    const mediaType = c.req.header('content-type')?.split(';')[0]?.trim() ?? '';
    if (!JSON_MEDIA_TYPE.test(mediaType)) return next();
    if (c.req.method === 'PUT' && c.req.path.endsWith('/profile')) return profile(c, next);
    return json(c, next);
  };
}
