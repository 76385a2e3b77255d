/** What one POST of a batch of reports came to. */
export type SendOutcome =
  | { kind: 'sent' }
  /** Keep the reports and try later: 5xx, network failure, or 429 (then `retryAfterMs` is set). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The server refused them for good (4xx other than 429): sending again would fail again. */
  | { kind: 'drop'; reason: string };

/**
 * POSTs reports (their JSON texts, sent byte for byte as sealed) as one object, or as a JSON array
 * when there are several. `keepalive` lets the request outlive a page being hidden or closed.
 *
 * Nothing but the report leaves: no cookies or HTTP credentials (`credentials: 'omit'`), no
 * `Referer` (`referrerPolicy: 'no-referrer'`), and no header beyond `Content-Type: text/plain`, a
 * CORS-safelisted value, so a page on another origin sends one simple request and no preflight
 * (the server parses the body as JSON whatever its type).
 */
export async function postReports(fetchImpl: typeof fetch, url: string, bodies: readonly string[], keepalive: boolean, now: () => number): Promise<SendOutcome> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      body: bodies.length === 1 ? bodies[0]! : `[${bodies.join(',')}]`,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      keepalive,
    });
  } catch (error) {
    return { kind: 'retry', reason: `the network failed: ${(error as Error)?.message ?? String(error)}` };
  }
  // The body is not needed; cancel it so the connection is freed.
  void response.body?.cancel().catch(() => undefined);
  if (response.ok) return { kind: 'sent' };
  const reason = `the server answered ${response.status}`;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
  if (response.status === 429 || response.status >= 500) {
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
  }
  return { kind: 'drop', reason };
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Retry timing: exponential from `initialMs`, capped at `maxMs`. */
export interface RetryOptions {
  /** Default 5 s. */
  initialMs?: number;
  /** Default 10 min. */
  maxMs?: number;
}

/**
 * Delay before retry number `attempt` (0-based): "equal jitter", d/2 + U(0, d/2) with
 * d = min(maxMs, initialMs · 2^attempt), so devices that failed together do not retry together
 * yet each still waits at least half the backoff.
 */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number): number {
  const d = Math.min(options.maxMs ?? 600_000, (options.initialMs ?? 5_000) * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}
