import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/**
 * Gives every admin request an id made by the server (a UUID), sets it as `requestId` for the audit
 * log and answers it in `X-Request-Id`. A client's own `X-Request-Id` is not used: what the audit
 * log records must not be chosen by the caller. Clients correlate with the id they get back.
 */
export function serverRequestId(): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async function assignRequestId(c, next) {
    const id = randomUUID();
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
}
