import { RuntimeError } from '../errors.js';

/** Normalises a storage failure; a full disk or quota is named as such, since the fix differs. */
export function storageError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const name = error instanceof Error ? error.name : '';
  const quota = name === 'QuotaExceededError' || (error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
  return new RuntimeError(
    quota ? 'quota' : 'storage',
    quota
      ? `${what} failed: the device is out of storage for this app (${name || 'ENOSPC'}); the previous release stays active`
      : `${what} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
