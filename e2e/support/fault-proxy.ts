import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  status: number;
  /** Body bytes passed on to the client. */
  bodyBytes: number;
  /** Status line + header bytes, approximately as sent. */
  headerBytes: number;
  /** The whole response was passed on. */
  ended: boolean;
}

/** What to do to the next response whose path contains `match`. */
export type Fault =
  | { match: string; kind: 'cut'; afterBytes: number }
  | { match: string; kind: 'hold'; afterBytes: number; until: Promise<void> };

/**
 * An HTTP proxy on loopback in front of the update server that records what crosses it and can
 * cut or stall a response part-way, as a flaky network or a closed tab would.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  readonly faults: Fault[] = [];
  #server: Server | undefined;
  url = '';

  constructor(readonly upstream: string) {}

  async start(): Promise<string> {
    this.#server = createServer((req, res) => this.#forward(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this.url;
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const target = new URL(req.url ?? '/', this.upstream);
    const record: ProxiedRequest = { method: req.method ?? 'GET', path: target.pathname, headers: req.headers, status: 0, bodyBytes: 0, headerBytes: 0, ended: false };
    this.requests.push(record);
    // A CORS preflight has no body to cut or hold: faults wait for the request it clears.
    const faultIndex = record.method === 'OPTIONS' ? -1 : this.faults.findIndex((fault) => record.path.includes(fault.match));
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0] : undefined;
    const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (upstreamRes) => {
      record.status = upstreamRes.statusCode ?? 0;
      record.headerBytes = 20 + Object.entries(upstreamRes.headers).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0);
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      let held = false;
      upstreamRes.on('data', (chunk: Buffer) => {
        if (fault && record.bodyBytes + chunk.byteLength > fault.afterBytes && !held) {
          const part = chunk.subarray(0, Math.max(0, fault.afterBytes - record.bodyBytes));
          record.bodyBytes += part.byteLength;
          res.write(part);
          held = true;
          upstreamRes.pause();
          if (fault.kind === 'cut') {
            setTimeout(() => {
              res.socket?.destroy();
              upstreamRes.destroy();
            }, 20);
          } else {
            const rest = chunk.subarray(part.byteLength);
            void fault.until.then(() => {
              if (res.destroyed) return upstreamRes.destroy();
              record.bodyBytes += rest.byteLength;
              res.write(rest);
              upstreamRes.resume();
            });
          }
          return;
        }
        record.bodyBytes += chunk.byteLength;
        res.write(chunk);
      });
      upstreamRes.on('end', () => {
        record.ended = true;
        res.end();
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  /** Body bytes sent to the client for paths containing `match`. */
  bodyBytesTo(match: string): number {
    return this.requests.filter((r) => r.path.includes(match)).reduce((n, r) => n + r.bodyBytes, 0);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
