import { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeS3, type FakeS3 } from '../testing/fake-s3.js';
import { blobStoreContract } from './blob-store-contract.js';
import { cachedBlobStore } from './cached-blob-store.js';
import { checkBucket, s3Blobs } from './s3-blob-store.js';

// s3rver on loopback: the S3 store is contract-tested against this fake, not against AWS.
const s3: FakeS3 = await startFakeS3();
afterAll(() => s3.stop());

const PART = 5 * 1024 * 1024; // S3's smallest multipart part
const client = () => new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });

blobStoreContract(
  'S3 (s3rver, with a local cache)',
  async () => {
    const cleanup: Array<() => Promise<void>> = [];
    const instance = async () => {
      const cacheDir = await mkdtemp(join(tmpdir(), 'edgeloop-blob-cache-'));
      const s3Client = client();
      cleanup.push(async () => {
        s3Client.destroy();
        await rm(cacheDir, { recursive: true, force: true });
      });
      const shared = s3Blobs({ client: s3Client, bucket: s3.bucket, prefix: 'contract/' });
      return { shared, store: cachedBlobStore(shared, { cacheDir, log: () => {} }) };
    };
    const first = await instance();
    return {
      store: first.store,
      shared: first.shared,
      otherInstance: async () => (await instance()).store,
      chunkBytes: PART,
      dispose: async () => {
        for (const step of cleanup.reverse()) await step();
      },
    };
  },
  { sharedLayer: true },
);

describe('S3 blob store', () => {
  it('says how to fix a bucket it cannot use', async () => {
    const s3Client = client();
    try {
      await expect(checkBucket(s3Client, 'no-such-bucket')).rejects.toThrow(/"no-such-bucket" is not usable: .*Create the bucket, or set AWS_ENDPOINT_URL_S3/);
      await checkBucket(s3Client, s3.bucket);
    } finally {
      s3Client.destroy();
    }
  });
});
