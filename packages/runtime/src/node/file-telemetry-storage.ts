import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isName, NAME_RULE } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { writeAtomic } from '../storage/atomic-file.js';
import { assertSynchronous, emptyTelemetryState, type TelemetryState, type TelemetryStorage } from '../telemetry/telemetry-storage.js';
import { fileLock, type FileLockOptions } from './file-lock.js';

interface StateFile {
  format: 'edgeloop-telemetry-state';
  version: 1;
  state: TelemetryState;
}

export interface FileTelemetryStorageOptions {
  /** Lock tuning: when a lock is judged stale, how long to wait for one. */
  lock?: FileLockOptions;
}

/**
 * Telemetry storage for Node (kiosks, Electron's main process): one JSON file per app in
 * `directory` (`<app>.telemetry.json`), changed only under an exclusive lock file
 * (`<app>.telemetry.lock`), read and rewritten whole inside the lock and replaced atomically
 * (temporary file, fsync, rename). Several processes sharing the directory therefore merge counts
 * without losing any and seal each period once. A lock left by a process that died (same host, pid
 * gone) or older than `lock.staleMs` (30 s) is taken over.
 *
 * @example
 * import { fileTelemetryStorage } from '@edgeloop/runtime/node';
 * createRuntime({ …, telemetry: { storage: fileTelemetryStorage('/var/lib/kiosk/edgeloop') } });
 */
export function fileTelemetryStorage(directory: string, options: FileTelemetryStorageOptions = {}): TelemetryStorage {
  const locks = new Map<string, ReturnType<typeof fileLock>>();
  let made: Promise<unknown> | undefined;
  const paths = (app: string) => {
    if (!isName(app)) throw new RuntimeError('invalid_argument', `app must be ${NAME_RULE}; got ${JSON.stringify(app)}`);
    return { state: join(directory, `${app}.telemetry.json`), lock: join(directory, `${app}.telemetry.lock`) };
  };
  const lockFor = (path: string) => {
    let lock = locks.get(path);
    if (!lock) locks.set(path, (lock = fileLock(path, options.lock)));
    return lock;
  };

  return {
    async transact(app, change) {
      const path = paths(app);
      try {
        await (made ??= mkdir(directory, { recursive: true }));
        return await lockFor(path.lock)(async () => {
          const state = await readState(path.state);
          const result = change(state);
          assertSynchronous(result);
          const file: StateFile = { format: 'edgeloop-telemetry-state', version: 1, state };
          await writeAtomic(path.state, JSON.stringify(file));
          return result;
        });
      } catch (error) {
        throw telemetryStorageError(error, 'save');
      }
    },
    async read(app) {
      const path = paths(app);
      try {
        // The file is only ever replaced by rename, so a read without the lock sees a whole state.
        return await readState(path.state);
      } catch (error) {
        throw telemetryStorageError(error, 'read');
      }
    },
  };
}

async function readState(path: string): Promise<TelemetryState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyTelemetryState();
    throw error;
  }
  const file = JSON.parse(text) as Partial<StateFile>;
  if (file.format !== 'edgeloop-telemetry-state' || file.version !== 1 || typeof file.state !== 'object' || file.state === null) {
    throw new RuntimeError('storage', `${path} is not an edgeloop telemetry state file (version 1); move it away to start afresh`);
  }
  // A state written before periods had a clock starts one at its next count.
  return { ...file.state, period: file.state.period ?? { start: null, assignments: {} } };
}

function telemetryStorageError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const full = (error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
  return new RuntimeError(full ? 'quota' : 'storage', `telemetry storage could not ${what} its state: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
