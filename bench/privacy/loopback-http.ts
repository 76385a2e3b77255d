import { request } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request over loopback from a chosen source address: the whole 127.0.0.0/8 block is
 * loopback on Linux, so each simulated device (or attacker) binds its own 127.x.y.z and the server
 * sees it as that client, as the per-source limit and the rate limit key on the socket address.
 */
export function loopbackRequest(
  url: string | URL,
  options: { method?: string; body?: string; headers?: Record<string, string>; from?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: { ...(options.body !== undefined && { 'Content-Length': String(Buffer.byteLength(options.body)) }), ...options.headers },
        ...(options.from !== undefined && { localAddress: options.from }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${String(url)} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The loopback source address of simulated client `index` (1 … 16,777,214): 127.a.b.c, never 127.0.0.1. */
export function sourceAddress(index: number): string {
  const n = index + 1;
  if (!Number.isInteger(index) || index < 1 || n >= 2 ** 24 - 1) throw new RangeError(`client index must be an integer in [1, 16777214], got ${index}`);
  return `127.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
