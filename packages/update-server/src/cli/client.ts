/** Exit codes of every `edgeloop` command, so scripts can tell failures apart. */
export const EXIT = { ok: 0, failed: 1, usage: 2, auth: 3, notFound: 4, conflict: 5, rejected: 6 } as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** The exit code for an HTTP status (and for a ServerError raised locally, by its status). */
export function exitFor(status: number): number {
  if (status === 400) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 413 || status === 415) return EXIT.rejected;
  return EXIT.failed;
}

/** A thin admin API client: JSON in, JSON out, errors become a CliError carrying the server's message. */
export function adminClient(options: { server: string; token: string | undefined; fetch?: typeof fetch }) {
  const fetchImpl = options.fetch ?? fetch;
  const base = new URL('v1/admin/', options.server.endsWith('/') ? options.server : `${options.server}/`);
  return async function request<T = Record<string, unknown>>(method: string, path: string, init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string> } = {}): Promise<T> {
    if (!options.token) throw new CliError('no token: pass --token or set EDGELOOP_TOKEN (create the first one with "edgeloop token bootstrap")', EXIT.usage);
    const headers: Record<string, string> = { Authorization: `Bearer ${options.token}`, ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let response: Response;
    try {
      response = await fetchImpl(new URL(path.replace(/^\//, ''), base), { method, headers, ...(body !== undefined && { body, duplex: 'half' }) } as RequestInit);
    } catch (error) {
      throw new CliError(`cannot reach ${base.origin}: ${error instanceof Error ? error.message : String(error)} (is "edgeloop serve" running? see --server)`, EXIT.failed);
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : {};
    if (!response.ok) {
      const error = (parsed as { error?: { code: string; message: string } }).error;
      throw new CliError(`${response.status} ${error?.code ?? 'error'}: ${error?.message ?? text}`, exitFor(response.status));
    }
    return parsed as T;
  };
}
