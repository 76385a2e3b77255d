import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgres } from './src/db/postgres.js';
import { postgresBlobs } from './src/blobs/postgres-blob-store.js';
import { cachedBlobStore } from './src/blobs/cached-blob-store.js';
import { generatedStream, hashStream, peakMemoryGrowth } from './src/testing/blob-bytes.js';
import { startPostgresCluster } from './src/testing/postgres-cluster.js';
const cluster = await startPostgresCluster();
const MiB = 1048576;
try {
  const db = await openPostgres(cluster.url);
  const shared = postgresBlobs(db, { chunkBytes: 256 * 1024 });
  for (let i = 0; i < 6; i++) {
    const a = cachedBlobStore(shared, { cacheDir: await mkdtemp(join(tmpdir(), 'e-')) });
    let sha = '';
    const put = await peakMemoryGrowth(async (sample) => { const s = await a.stage(generatedStream(64 * MiB, { onChunk: sample }).stream, { maxBytes: 1e12 }); await s.commit(); sha = s.sha256; });
    const b = cachedBlobStore(postgresBlobs(db, { chunkBytes: 256 * 1024 }), { cacheDir: await mkdtemp(join(tmpdir(), 'e-')) });
    const read = await peakMemoryGrowth(async (sample) => { await hashStream(b.read(sha), sample); });
    console.log(`put rss ${(put.rss / MiB).toFixed(1)} live ${(put.live / MiB).toFixed(1)}; read rss ${(read.rss / MiB).toFixed(1)} live ${(read.live / MiB).toFixed(1)}`);
  }
  await db.close();
} finally { await cluster.stop(); }
