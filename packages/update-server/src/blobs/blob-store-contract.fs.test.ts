import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobStoreContract } from './blob-store-contract.js';
import { fsBlobStore } from './fs-blob-store.js';

blobStoreContract(
  'filesystem',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-blobs-'));
    return {
      store: fsBlobStore(dir),
      // Two instances share filesystem blobs only by sharing the directory (e.g. a network mount).
      otherInstance: async () => fsBlobStore(dir),
      chunkBytes: 64 * 1024,
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { sharedLayer: false },
);
