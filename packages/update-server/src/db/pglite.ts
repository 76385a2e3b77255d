import fs, { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import type { Database, Sql } from './database.js';
import { migrate } from './migrations.js';
import { createFromTemplate, templateMismatch, templateTarball } from './pglite-template.js';

export interface PgliteOptions {
  /**
   * Flush every commit to the disk (fsync), so what the server answered as stored survives an
   * operating-system crash or power loss, not only a killed process. Default true; false only
   * for throwaway data (benchmarks that measure what it costs).
   */
  durable?: boolean;
  log?: (message: string) => void;
}

/**
 * Shared buffers of the embedded database. PostgreSQL's default (128 MB) costs about 100 MiB of
 * resident memory in PGlite at start; the registry and hourly aggregates are small, and pages
 * not in buffers are one read away in the operating system's cache.
 */
const SHARED_BUFFERS = '16MB';

/**
 * PGlite's own start parameters minus `-F` (fsync off), which it sets by default. With fsync on,
 * WAL is flushed with fsync() (`wal_sync_method=fsync`): PGlite's WASM build turns fdatasync()
 * into nothing, and fsync() reaches the disk only through {@link DurableNodeFS}.
 */
function startParams(durable: boolean): string[] {
  return [
    '--single',
    ...(durable ? [] : ['-F']),
    '-O',
    '-j',
    ...['search_path=public', 'exit_on_error=false', 'log_checkpoints=false', 'max_worker_processes=0', 'max_parallel_workers=0'],
    ...['max_parallel_workers_per_gather=0', 'io_method=sync', 'max_parallel_maintenance_workers=0', `shared_buffers=${SHARED_BUFFERS}`],
    ...(durable ? ['fsync=on', 'wal_sync_method=fsync', 'synchronous_commit=on'] : []),
  ].flatMap((param) => (param.includes('=') ? ['-c', param] : [param]));
}

type StreamOps = { fsync?: (stream: { nfd?: number }) => void };

function hasStreamOps(fs: unknown): fs is { stream_ops: StreamOps } {
  return typeof fs === 'object' && fs !== null && 'stream_ops' in fs && typeof fs.stream_ops === 'object' && fs.stream_ops !== null;
}

/**
 * PGlite's Node filesystem (Emscripten's NODEFS) has no fsync: PostgreSQL's fsync() of a WAL or
 * data file returned at once and nothing reached the disk. This one passes it to the real file.
 */
class DurableNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const wireFsync = (mod: { NODEFS: unknown }) => {
      if (!hasStreamOps(mod.NODEFS)) throw new Error('PGlite changed its Node filesystem: NODEFS.stream_ops is missing, fsync cannot be wired');
      mod.NODEFS.stream_ops.fsync = (stream) => {
        if (stream.nfd !== undefined) fs.fsyncSync(stream.nfd); // looked up per call: tests count the calls
      };
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), wireFsync] } };
  }
}

/**
 * Opens the embedded database (PGlite, PostgreSQL compiled to WASM) in `directory`, or in memory
 * when `directory` is undefined, and brings its schema up to date. A new database starts from the
 * template shipped with the package (pglite-template.ts) instead of running initdb.
 */
export async function openPglite(directory?: string, options: PgliteOptions = {}): Promise<Database> {
  const durable = options.durable ?? true;
  const log = options.log ?? (() => {});
  const mismatch = templateMismatch();
  let pg: PGlite;
  if (directory === undefined) {
    pg = new PGlite({ startParams: startParams(false), ...(mismatch === null && { loadDataDir: await templateTarball() }) });
    await pg.waitReady;
  } else {
    const fresh = !existsSync(join(directory, 'PG_VERSION')) && (await isEmptyOrMissing(directory));
    if (fresh && mismatch !== null) log(`${mismatch}: creating the database with initdb, which takes several seconds (npm run make:pglite-template)`);
    const fromTemplate = fresh && mismatch === null;
    if (fromTemplate) await createFromTemplate(directory);
    const open = async () => {
      const instance = new PGlite({ fs: durable ? new DurableNodeFS(directory) : new NodeFS(directory), startParams: startParams(durable) });
      await instance.waitReady;
      return instance;
    };
    try {
      pg = await open();
    } catch (error) {
      if (!fromTemplate) throw error;
      // The template is checked against the installed PGlite's version; should PostgreSQL still
      // refuse it, the new database is made the slow way rather than not at all.
      log(`the PGlite template could not be opened (${(error as Error).message}); creating the database with initdb`);
      await rm(directory, { recursive: true, force: true });
      pg = await open();
    }
  }
  const database: Database = {
    async query<Row extends object>(text: string, params?: unknown[]) {
      const result = await pg.query<Row>(text, params);
      return result.rows;
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>) {
      return pg.transaction(async (tx) =>
        fn({
          async query<Row extends object>(text: string, params?: unknown[]) {
            return (await tx.query<Row>(text, params)).rows;
          },
        }),
      );
    },
    async listen(channel, onMessage) {
      return pg.listen(channel, onMessage);
    },
    async close() {
      await pg.close();
    },
  };
  await migrate(database);
  return database;
}

async function isEmptyOrMissing(directory: string): Promise<boolean> {
  try {
    return (await readdir(directory)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}
