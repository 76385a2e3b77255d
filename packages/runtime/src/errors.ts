/** Every failure the runtime raises; `code` says what went wrong, `message` how to fix it. */
export type RuntimeErrorCode =
  | 'invalid_argument'
  | 'network'
  | 'server'
  | 'not_found'
  | 'integrity'
  | 'storage'
  | 'quota'
  | 'untrusted'
  | 'aborted'
  | 'engine'
  | 'invalid_model'
  | 'backend_unavailable'
  | 'backend_lost'
  | 'unsupported_format'
  | 'disposed'
  | 'worker'
  | 'health';

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly code: RuntimeErrorCode;
  readonly details: unknown;

  constructor(code: RuntimeErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  static fromUnknown(error: unknown, code: RuntimeErrorCode = 'engine'): RuntimeError {
    if (error instanceof RuntimeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new RuntimeError(code, message, { cause: error });
  }
}
