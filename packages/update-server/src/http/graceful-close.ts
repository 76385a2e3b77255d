import type { Server as HttpServer, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';

type NodeServer = HttpServer | Http2Server | Http2SecureServer;

export interface DrainResult {
  /** Requests that finished while draining. */
  finished: number;
  /** Requests still running when the timeout cut them. */
  cut: number;
}

/**
 * Tracks requests in flight on `server` so it can be closed gracefully: `drain()` stops accepting
 * connections, lets every request in flight finish (a download its last byte, an upload its
 * answer) for at most `timeoutMs`, closes each connection as its request ends (`Connection:
 * close`), then cuts whatever is left.
 */
export function gracefulClose(server: NodeServer): { drain(timeoutMs: number): Promise<DrainResult>; readonly inFlight: number } {
  const inFlight = new Set<ServerResponse>();
  let draining: (() => void) | undefined;
  let finished = 0;
  // Ahead of the app's own listener, so the header is set before any response is written.
  server.prependListener('request', (_req: unknown, res: ServerResponse) => {
    inFlight.add(res);
    if (draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (!draining) return;
      finished += 1;
      draining();
    });
  });

  return {
    get inFlight() {
      return inFlight.size;
    },
    async drain(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        draining = () => {
          // A keep-alive connection whose response went out before draining began stays open
          // and idle: close those as their last request ends.
          if ('closeIdleConnections' in server) server.closeIdleConnections();
          if (inFlight.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        draining();
      });
      const cut = inFlight.size;
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
      return { finished, cut };
    },
  };
}
