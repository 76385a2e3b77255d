import type { Database, Sql } from '../db/database.js';
import { ServerError } from '../errors.js';
import type { SharedBlobStore } from './blob-store.js';
import { fixedChunks, verifiedStream } from './streams.js';

export interface PostgresBlobsOptions {
  /** Bytes per stored chunk: the most one read or write holds in memory. Default 1 MiB. */
  chunkBytes?: number;
}

/** Serialises writers of one blob (put, delete) across instances; readers never wait. */
const LOCK_SQL = `select pg_advisory_xact_lock(hashtext('edgeloop blob ' || $1))`;

/**
 * Blobs in the shared database (tables `blob_objects` and `blob_chunks`, migration 12), so every
 * instance on one PostgreSQL serves every published file. Bytes move one chunk per query in both
 * directions: nothing holds a whole file, and a Range reads only the chunks it overlaps.
 */
export function postgresBlobs(db: Database, options: PostgresBlobsOptions = {}): SharedBlobStore {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);

  const objectOf = async (sql: Sql, sha256: string) => {
    const [row] = await sql.query<{ size: string | number; chunk_bytes: number }>('select size, chunk_bytes from blob_objects where sha256 = $1', [sha256]);
    return row ? { size: Number(row.size), chunkBytes: Number(row.chunk_bytes) } : null;
  };

  return {
    description: 'postgres',

    async put(sha256, size, body) {
      await db.transaction(async (tx) => {
        // Two instances storing the same bytes take turns; the second finds them and only touches them.
        await tx.query(LOCK_SQL, [sha256]);
        const touched = await tx.query('update blob_objects set written_at = now() where sha256 = $1 returning 1', [sha256]);
        if (touched.length > 0) {
          await body.cancel();
          return;
        }
        let seq = 0;
        for await (const chunk of fixedChunks(verifiedStream(body, sha256, size), chunkBytes)) {
          await tx.query('insert into blob_chunks (sha256, seq, data) values ($1, $2, $3)', [sha256, seq, chunk]);
          seq += 1;
        }
        // Reached only when the bytes hashed right (verifiedStream errors before its end otherwise),
        // and the row that makes them visible commits together with every chunk.
        await tx.query('insert into blob_objects (sha256, size, chunk_bytes) values ($1, $2, $3)', [sha256, size, chunkBytes]);
      });
    },

    async stat(sha256) {
      const object = await objectOf(db, sha256);
      return object && { size: object.size };
    },

    read(sha256, range) {
      let next = -1;
      let end = -1;
      let stride = 0;
      return new ReadableStream<Uint8Array>(
        {
          async start() {
            const object = await objectOf(db, sha256);
            if (!object) throw new ServerError('not_found', `no blob ${sha256} in postgres`);
            next = range?.start ?? 0;
            end = range ? Math.min(range.end, object.size - 1) : object.size - 1;
            stride = object.chunkBytes;
          },
          async pull(controller) {
            if (next > end) {
              controller.close();
              return;
            }
            const seq = Math.floor(next / stride);
            const offset = next - seq * stride;
            const length = Math.min(stride - offset, end - next + 1);
            // substring() on an uncompressed (storage external) value reads only the slices it needs.
            const [row] = await db.query<{ data: Uint8Array }>(
              'select substring(data from $3 for $4) as data from blob_chunks where sha256 = $1 and seq = $2',
              [sha256, seq, offset + 1, length],
            );
            if (!row || row.data.byteLength !== length) {
              throw new ServerError('internal', `blob ${sha256} lost chunk ${seq} while it was read (deleted by GC?); request it again`);
            }
            controller.enqueue(row.data);
            next += length;
            if (next > end) controller.close();
          },
        },
        // One chunk read ahead: the next query overlaps sending this chunk, and memory stays at two.
        { highWaterMark: 1 },
      );
    },

    async *list() {
      // Keyset pages: GC walks every blob without one huge result.
      let after = '';
      for (;;) {
        const rows = await db.query<{ sha256: string; written_at: Date }>(
          'select sha256, written_at from blob_objects where sha256 > $1 order by sha256 limit 1000',
          [after],
        );
        for (const row of rows) yield { sha256: row.sha256, writtenAt: row.written_at };
        if (rows.length < 1000) return;
        after = rows[rows.length - 1]!.sha256;
      }
    },

    async delete(sha256) {
      await db.transaction(async (tx) => {
        await tx.query(LOCK_SQL, [sha256]);
        await tx.query('delete from blob_objects where sha256 = $1', [sha256]);
        await tx.query('delete from blob_chunks where sha256 = $1', [sha256]);
      });
    },
  };
}
