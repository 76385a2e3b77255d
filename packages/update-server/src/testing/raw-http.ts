import { request } from 'node:http';

export interface RawResult {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Set when the connection failed or was cut before a whole response arrived. */
  error?: string;
}

export interface RawUpload {
  method?: string;
  headers?: Record<string, string>;
  /** Bytes of body to send (zeros unless `body` is given). */
  bytes: number;
  body?: Uint8Array;
  /** Send Content-Length (default) or chunked transfer encoding. */
  declareLength?: boolean;
  /** Cut the connection after this many body bytes, as a dropped client would. */
  abortAfter?: number;
  chunkBytes?: number;
  timeoutMs?: number;
}

/**
 * A request written by hand over node:http, to do what fetch will not: declare a length and send
 * less, cut the connection mid-body, keep sending after the server answered. Settles on the
 * response, on a connection error, or after `timeoutMs` (default 15 s) — never hangs a test.
 */
export function rawRequest(url: string | URL, options: RawUpload): Promise<RawResult> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const total = options.bytes;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: RawResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const headers: Record<string, string> = { ...options.headers };
    if (options.declareLength ?? true) headers['Content-Length'] = String(total);
    const req = request(url, { method: options.method ?? 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => settle({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => settle({ status: res.statusCode, error: error.message }));
    });
    req.on('error', (error) => settle({ error: error.message }));
    req.on('close', () => setTimeout(() => settle({ error: 'connection closed' }), 50));
    const timer = setTimeout(() => {
      req.destroy();
      settle({ error: 'timed out' });
    }, options.timeoutMs ?? 15_000);
    let sent = 0;
    const pump = () => {
      while (sent < total && !req.destroyed) {
        if (options.abortAfter !== undefined && sent >= options.abortAfter) {
          req.destroy();
          return;
        }
        const size = Math.min(chunkBytes, total - sent, options.abortAfter !== undefined ? options.abortAfter - sent : Infinity);
        const chunk = options.body ? options.body.subarray(sent, sent + size) : new Uint8Array(size);
        sent += size;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (sent >= total && !req.destroyed) req.end();
    };
    pump();
  });
}
