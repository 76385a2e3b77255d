import { transferHandlers, type TransferHandler } from 'comlink';
import { RuntimeError, type RuntimeErrorCode } from '../errors.js';

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: RuntimeErrorCode;
  details?: unknown;
}

/**
 * Errors cross the worker boundary as `{ name, message, stack, code, details }` and are rebuilt as
 * RuntimeError on the other side, so callers can branch on `code` wherever the engine ran.
 * Registered on both sides of the worker (comlink's default keeps only name, message and stack).
 * An error that is not a RuntimeError crosses with code `engine` and its original name kept in the message.
 */
export function installErrorTransfer(): void {
  const handler: TransferHandler<{ value: unknown }, { isError: boolean; value: SerializedError | unknown }> = {
    canHandle: (value): value is { value: unknown } => typeof value === 'object' && value !== null && 'value' in value,
    serialize({ value }) {
      if (value instanceof Error) {
        const serialized: SerializedError = { name: value.name, message: value.message };
        if (value.stack !== undefined) serialized.stack = value.stack;
        if (value instanceof RuntimeError) {
          serialized.code = value.code;
          // Details the runtime sets are plain data (lists of reasons); anything else stays behind.
          if (isPlainData(value.details)) serialized.details = value.details;
        }
        return [{ isError: true, value: serialized }, []];
      }
      return [{ isError: false, value }, []];
    },
    deserialize(serialized) {
      if (!serialized.isError) throw serialized.value;
      const value = serialized.value as SerializedError;
      const message = value.code === undefined && value.name !== 'Error' ? `${value.name}: ${value.message}` : value.message;
      const error = new RuntimeError(value.code ?? 'engine', message, { details: value.details });
      if (value.stack !== undefined) error.stack = value.stack;
      throw error;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}

function isPlainData(value: unknown): boolean {
  if (value === undefined) return false;
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isPlainData);
  return typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(isPlainData);
}
