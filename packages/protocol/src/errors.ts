/** Every failure this package raises; `code` says which rule was broken. */
export type ProtocolErrorCode = 'invalid_manifest' | 'invalid_golden' | 'invalid_argument';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly details: unknown;

  constructor(code: ProtocolErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  static fromUnknown(error: unknown): ProtocolError {
    if (error instanceof ProtocolError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new ProtocolError('invalid_argument', message, error);
  }
}
