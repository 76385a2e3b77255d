/** Every failure this package raises; `code` says which rule was broken. */
export type TelemetryErrorCode =
  | 'invalid_argument'
  | 'invalid_config'
  | 'budget'
  | 'incompatible_merge'
  | 'invalid_report'
  | 'invalid_profile'
  | 'profile_mismatch'
  | 'storage_failed';

export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  readonly code: TelemetryErrorCode;
  readonly details: unknown;

  constructor(code: TelemetryErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }

  static fromUnknown(error: unknown): TelemetryError {
    if (error instanceof TelemetryError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new TelemetryError('invalid_argument', message, error);
  }
}
