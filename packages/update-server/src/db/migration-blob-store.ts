import type { Migration } from './migrations.js';

/**
 * Artifact bytes in the database (blobs/postgres-blob-store.ts), so instances sharing one
 * PostgreSQL share their files. A blob is visible once its `blob_objects` row exists; the row and
 * every chunk commit in one transaction. Chunks are stored uncompressed (model weights do not
 * compress) and out of line, so `substring()` of a chunk reads only the pages a Range needs.
 */
export const blobStoreMigration: Migration = {
  id: 12,
  name: 'shared blob store',
  sql: `
    create table blob_objects (
      sha256 text primary key,
      size bigint not null,
      chunk_bytes integer not null,
      written_at timestamptz not null default now()
    );
    create table blob_chunks (
      sha256 text not null,
      seq integer not null,
      data bytea not null,
      primary key (sha256, seq)
    );
    alter table blob_chunks alter column data set storage external
  `,
};
