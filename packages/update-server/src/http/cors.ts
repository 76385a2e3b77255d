/**
 * CORS response headers for the device routes that answer without the generic `hono/cors`
 * middleware (it materialises a full Response per request; preflights still go through it).
 * The function it returns adds to `headers` what a request from `origin` gets (nothing when that
 * origin is not allowed) and returns them: in place, as the poll path builds one object per response.
 */
export function corsResponseHeaders(corsOrigins: string | readonly string[], exposeHeaders: readonly string[] = []) {
  const expose = exposeHeaders.join(', ');
  const allowed = typeof corsOrigins === 'string' ? [corsOrigins] : corsOrigins;
  return function addCorsHeaders(headers: Record<string, string>, origin: string | undefined): Record<string, string> {
    const allow = corsOrigins === '*' ? '*' : origin !== undefined && allowed.includes(origin) ? origin : null;
    if (allow === null) return headers;
    headers['Access-Control-Allow-Origin'] = allow;
    if (expose) headers['Access-Control-Expose-Headers'] = expose;
    if (allow !== '*') headers.Vary = 'Origin';
    return headers;
  };
}
