import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ServerError } from '../errors.js';

/**
 * Node's IncomingMessage when the app is served by @hono/node-server (`c.env.incoming`); undefined in
 * tests that call `app.request()` and on other runtimes. The hot device paths read it directly:
 * asking the adapter's Fetch `Request` for headers or a body stream makes it build a whole
 * Headers object, ReadableStream and AbortSignal per request, which costs more than the handler.
 */
export function nodeIncoming(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** A request header, from Node's IncomingMessage when there is one, else from the Fetch Request. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeIncoming(c);
  if (incoming) {
    const value = incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
  return c.req.header(name);
}

/**
 * The request body as text, refusing more than `maxBytes` with a 413 `payload_too_large` that says
 * `hint`. A declared Content-Length is checked before anything is read (Node's parser then delivers
 * exactly that many bytes, read by the adapter's direct path); a chunked body is counted as it
 * arrives and reading stops at the limit.
 */
export async function readBodyText(c: Context, maxBytes: number, hint: string): Promise<string> {
  const tooLarge = () => new ServerError('payload_too_large', `request bodies here are limited to ${maxBytes} bytes; ${hint}`);
  const declared = requestHeader(c, 'content-length');
  const chunked = requestHeader(c, 'transfer-encoding') !== undefined;
  if (declared !== undefined && !chunked) {
    if (Number(declared) > maxBytes) throw tooLarge();
    return c.req.text();
  }
  const body = c.req.raw.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
