import { transferHandlers, type TransferHandler } from 'comlink';
import { RuntimeError, type RuntimeErrorCode } from '../errors.js';

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: RuntimeErrorCode;
}

/**
 * Errors cross the worker boundary as `{ name, message, stack, code }` and are rebuilt as
 * RuntimeError on the other side, so callers can branch on `code` wherever the engine ran.
 * Registered on both sides of the worker (comlink's default keeps only name, message and stack).
 */
export function installErrorTransfer(): void {
  const handler: TransferHandler<{ value: unknown }, { isError: boolean; value: SerializedError | unknown }> = {
    canHandle: (value): value is { value: unknown } => typeof value === 'object' && value !== null && 'value' in value,
    serialize({ value }) {
      if (value instanceof Error) {
        const serialized: SerializedError = { name: value.name, message: value.message };
        if (value.stack !== undefined) serialized.stack = value.stack;
        if (value instanceof RuntimeError) serialized.code = value.code;
        return [{ isError: true, value: serialized }, []];
      }
      return [{ isError: false, value }, []];
    },
    deserialize(serialized) {
      if (!serialized.isError) throw serialized.value;
      const value = serialized.value as SerializedError;
      const error = new RuntimeError(value.code ?? 'engine', value.message);
      if (value.stack !== undefined) error.stack = value.stack;
      throw error;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
