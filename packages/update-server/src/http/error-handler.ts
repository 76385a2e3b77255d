import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { infrastructureError, ServerError, type ErrorBody } from '../errors.js';

type Log = (message: string, error: unknown) => void;

/**
 * The one place errors become HTTP responses: `{ error: { code, message, details } }`, never a stack,
 * with `Retry-After` on failures that pass by themselves (503, 507). Unexpected errors are logged
 * server-side and answered as a bare 500.
 */
export function errorHandler(log: Log) {
  return function handleError(error: Error, c: Context): Response {
    return errorResponse(c, toServerError(error, c, log));
  };
}

/** The response for `serverError`, with `headers` (e.g. CORS) and Retry-After where it applies. */
export function errorResponse(c: Context, serverError: ServerError, headers: Record<string, string> = {}): Response {
  const retryAfterS = serverError.retryAfterS;
  return c.json(errorBody(serverError), serverError.status, retryAfterS === undefined ? headers : { ...headers, 'Retry-After': String(retryAfterS) });
}

/** When each log function last reported an infrastructure fault: one line a second, not one per request. */
const lastFaultLogged = new WeakMap<Log, number>();

/** What an error thrown while handling `c` is answered as; unexpected ones are logged. */
export function toServerError(error: unknown, c: Context, log: Log): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof HTTPException && error.status === 413) return new ServerError('payload_too_large', 'request body is too large');
  if (error instanceof HTTPException && error.status < 500) return new ServerError('bad_request', error.message || 'bad request');
  const fault = infrastructureError(error);
  if (fault) {
    const now = Date.now();
    if (now - (lastFaultLogged.get(log) ?? 0) >= 1000) {
      lastFaultLogged.set(log, now);
      log(`${c.req.method} ${c.req.path} answered ${fault.status}: ${fault.message}`, error);
    }
    return fault;
  }
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
