/**
 * CORS response headers for the device routes that answer without the generic `hono/cors`
 * middleware (it materialises a full Response per request; preflights still go through it).
 * Returns the headers to add for a request from `origin`, or an empty record when it is not allowed.
 */
export function corsResponseHeaders(corsOrigins: string | readonly string[], exposeHeaders: readonly string[] = []) {
  const expose = exposeHeaders.join(', ');
  const allowed = typeof corsOrigins === 'string' ? [corsOrigins] : corsOrigins;
  return function headersFor(origin: string | undefined): Record<string, string> {
    const allow = corsOrigins === '*' ? '*' : origin !== undefined && allowed.includes(origin) ? origin : null;
    if (allow === null) return {};
    const headers: Record<string, string> = { 'Access-Control-Allow-Origin': allow };
    if (expose) headers['Access-Control-Expose-Headers'] = expose;
    if (allow !== '*') headers.Vary = 'Origin';
    return headers;
  };
}
