import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Env, Hono } from 'hono';

/**
 * The interactive API reference (`/v1/admin/reference`), served entirely by this server: Swagger
 * UI from the `swagger-ui-dist` package (static files, no runtime dependencies, made to be served
 * by the application itself), its start-up script as a file of ours, and a Content-Security-Policy
 * that lets the page load and call nothing but this origin. An admin page never runs a script
 * from a CDN.
 */
export function referenceRoutes<E extends Env>(api: Hono<E>): void {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const assets = new Map<string, { load: () => Buffer; type: string }>([
    ['swagger-ui-bundle.js', { load: () => readFileSync(join(dist, 'swagger-ui-bundle.js')), type: 'text/javascript; charset=utf-8' }],
    ['swagger-ui.css', { load: () => readFileSync(join(dist, 'swagger-ui.css')), type: 'text/css; charset=utf-8' }],
    ['start.js', { load: () => Buffer.from(START), type: 'text/javascript; charset=utf-8' }],
  ]);
  const loaded = new Map<string, { body: Buffer; etag: string; type: string }>();
  const asset = (name: string) => {
    let file = loaded.get(name);
    const source = assets.get(name);
    if (!file && source) {
      const body = source.load(); // read on first use: most servers never show the page
      file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type: source.type };
      loaded.set(name, file);
    }
    return file;
  };

  api.get('/reference', (c) => c.html(PAGE, 200, { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' }));
  api.get('/reference/:file', (c) => {
    const file = asset(c.req.param('file'));
    if (!file) return c.notFound();
    const headers = { ETag: file.etag, 'Cache-Control': 'public, max-age=3600', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' };
    if (c.req.header('if-none-match') === file.etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(file.body), 200, { ...headers, 'Content-Type': file.type });
  });
}

/**
 * Scripts, styles, images and requests from this origin only. Swagger UI sets some styles inline
 * and draws icons from data: URIs; it evaluates no strings as code.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

// Relative URLs: the page works under whatever prefix a proxy mounts the server at.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeloop admin API</title>
<link rel="stylesheet" href="reference/swagger-ui.css">
</head>
<body>
<div id="api"></div>
<script src="reference/swagger-ui-bundle.js"></script>
<script src="reference/start.js"></script>
</body>
</html>
`;

// validatorUrl: null — Swagger UI otherwise asks validator.swagger.io about the document.
const START = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#api',
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;
