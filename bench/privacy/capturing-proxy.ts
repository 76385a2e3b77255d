import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request exactly as it came over the wire, with the answer it got. */
export interface WireRequest {
  method: string;
  path: string;
  /** Header names lowercased, values as sent (repeated headers joined with ", "). */
  headers: Record<string, string>;
  body: Buffer;
  status: number;
  responseHeaders: Record<string, string>;
  /** Whether the proxy served it from the page's files instead of forwarding it. */
  page: boolean;
}

export interface CapturingProxy {
  url: string;
  captured: WireRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css', wasm: 'application/wasm', json: 'application/json' };

/**
 * A loopback HTTP server in front of the update server that records every request at the wire
 * (Playwright's request events miss some, e.g. keepalive POSTs on page hide) and serves the page's
 * own files, so the page and the server share one origin: a cookie set on it would go with every
 * request the runtime makes unless the runtime leaves it out.
 */
export async function startCapturingProxy(target: string, pageFiles: ReadonlyMap<string, Uint8Array>): Promise<CapturingProxy> {
  const captured: WireRequest[] = [];
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    void readAll(req).then((body) => {
      const path = req.url ?? '/';
      const headers = flatten(req.headers);
      const file = pageFiles.get(path.split('?')[0]!);
      if (file !== undefined) {
        const type = TYPES[path.split('?')[0]!.split('.').pop() ?? ''] ?? 'application/octet-stream';
        captured.push({ method: req.method ?? 'GET', path, headers, body, status: 200, responseHeaders: { 'content-type': type }, page: true });
        res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
        res.end(file);
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          void readAll(answer).then((answerBody) => {
            const responseHeaders = flatten(answer.headers);
            captured.push({ method: req.method ?? 'GET', path, headers, body, status: answer.statusCode ?? 0, responseHeaders, page: false });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(answerBody);
          });
        },
      );
      forward.on('error', (error) => {
        captured.push({ method: req.method ?? 'GET', path, headers, body, status: 502, responseHeaders: {}, page: false });
        res.writeHead(502).end(error.message);
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    captured,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function flatten(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}
