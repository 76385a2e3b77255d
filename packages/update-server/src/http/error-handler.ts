import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ServerError, type ErrorBody } from '../errors.js';

/**
 * The one place errors become HTTP responses: `{ error: { code, message, details } }`, never a stack.
 * Unexpected errors are logged server-side and answered as a bare 500.
 */
export function errorHandler(log: (message: string, error: unknown) => void) {
  return function handleError(error: Error, c: Context): Response {
    let serverError: ServerError;
    if (error instanceof ServerError) serverError = error;
    else if (error instanceof HTTPException && error.status === 413) {
      serverError = new ServerError('payload_too_large', 'request body is too large');
    } else if (error instanceof HTTPException && error.status < 500) {
      serverError = new ServerError('bad_request', error.message || 'bad request');
    } else {
      log(`unhandled error on ${c.req.method} ${c.req.path}`, error);
      serverError = ServerError.fromUnknown(error);
    }
    const body: ErrorBody = { error: { code: serverError.code, message: serverError.message } };
    if (serverError.details !== undefined) body.error.details = serverError.details;
    return c.json(body, serverError.status);
  };
}

export function notFoundHandler(c: Context): Response {
  const body: ErrorBody = {
    error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}; see the API reference in docs/api.md` },
  };
  return c.json(body, 404);
}
