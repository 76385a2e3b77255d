import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ServerError, type ErrorBody } from '../errors.js';

/**
 * The one place errors become HTTP responses: `{ error: { code, message, details } }`, never a stack.
 * Unexpected errors are logged server-side and answered as a bare 500.
 */
export function errorHandler(log: (message: string, error: unknown) => void) {
  return function handleError(error: Error, c: Context): Response {
    const serverError = toServerError(error, c, log);
    return c.json(errorBody(serverError), serverError.status);
  };
}

/** What an error thrown while handling `c` is answered as; unexpected ones are logged. */
export function toServerError(error: unknown, c: Context, log: (message: string, error: unknown) => void): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof HTTPException && error.status === 413) return new ServerError('payload_too_large', 'request body is too large');
  if (error instanceof HTTPException && error.status < 500) return new ServerError('bad_request', error.message || 'bad request');
  log(`unhandled error on ${c.req.method} ${c.req.path}`, error);
  return ServerError.fromUnknown(error);
}

export function errorBody(serverError: ServerError): ErrorBody {
  const body: ErrorBody = { error: { code: serverError.code, message: serverError.message } };
  if (serverError.details !== undefined) body.error.details = serverError.details;
  return body;
}

export function notFoundHandler(c: Context): Response {
  const body: ErrorBody = {
    error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}; see the API reference in docs/api.md` },
  };
  return c.json(body, 404);
}
