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
  | 'internal';

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
};

/** The one error type of the update server. Its message is shown to API clients, so it names the fix. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly code: ServerErrorCode;
  readonly details: unknown;

  constructor(code: ServerErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return STATUS[this.code];
  }

  static fromUnknown(error: unknown): ServerError {
    if (error instanceof ServerError) return error;
    return new ServerError('internal', 'internal error', undefined);
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ServerErrorCode; message: string; details?: unknown };
}
