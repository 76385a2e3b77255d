import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every failure this package answers with; `code` is stable and machine-readable. */
export type ServerErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_model'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'internal'
  | 'unavailable'
  | 'insufficient_storage';

const STATUS: Record<ServerErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  invalid_model: 400,
  not_found: 404,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
  unavailable: 503,
  insufficient_storage: 507,
};

/** What a client is told to wait before retrying a 503 or 507, in seconds (`Retry-After`). */
const RETRY_AFTER_S: Partial<Record<ServerErrorCode, number>> = { unavailable: 5, insufficient_storage: 60 };

/** The one error type of the update server. Its message is shown to API clients, so it names the fix. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly code: ServerErrorCode;
  readonly details: unknown;

  constructor(code: ServerErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return STATUS[this.code];
  }

  /** Seconds a client should wait before retrying, for failures that pass by themselves; else undefined. */
  get retryAfterS(): number | undefined {
    return RETRY_AFTER_S[this.code];
  }

  static fromUnknown(error: unknown): ServerError {
    if (error instanceof ServerError) return error;
    return infrastructureError(error) ?? new ServerError('internal', 'internal error', undefined);
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ServerErrorCode; message: string; details?: unknown };
}

/** Node errno codes of a full disk or quota. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);
/** Node errno codes of a connection that could not be made or was lost. */
const CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Node errno codes of a disk that fails or refuses writes for a while. */
const STORAGE = new Set(['EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EBUSY']);
/** node-postgres reports a lost or unusable connection with these messages and no code. */
const PG_CONNECTION_MESSAGE = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/**
 * A fault of the machinery under the server (database down, disk full) as the ServerError a client
 * can act on: 503 or 507, both with Retry-After; undefined for anything else. Recognises PostgreSQL
 * SQLSTATEs (class 08 connection exception, 53 insufficient resources, 57P01–57P03 shutdown and
 * start-up), node-postgres's connection messages and Node's errno codes.
 */
export function infrastructureError(error: unknown): ServerError | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NO_SPACE.has(code)) {
      return new ServerError('insufficient_storage', 'the server is out of disk space; retry later (operators: free space in the data directory)', undefined, { cause: error });
    }
    if (code === '53100') {
      return new ServerError('unavailable', 'the database is out of disk space; retry later (operators: free space for the database)', undefined, { cause: error });
    }
    if (/^(08|53|57P0[123])/.test(code) || CONNECTION.has(code)) {
      return new ServerError('unavailable', 'the database is unavailable; retry shortly', undefined, { cause: error });
    }
    if (STORAGE.has(code)) return new ServerError('unavailable', 'storage is temporarily unavailable; retry shortly', undefined, { cause: error });
  }
  if (PG_CONNECTION_MESSAGE.test(error.message)) {
    return new ServerError('unavailable', 'the database is unavailable; retry shortly', undefined, { cause: error });
  }
  return undefined;
}
