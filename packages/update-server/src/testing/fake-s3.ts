import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface FakeS3 {
  /** `http://127.0.0.1:<port>`: pass it as the S3 client's endpoint (with forcePathStyle). */
  endpoint: string;
  /** A bucket that exists. */
  bucket: string;
  /** Static credentials the fake accepts (it checks signatures with them). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

/**
 * s3rver, a fake S3 that keeps objects in a temp dir, on a free loopback port: for contract tests
 * only. It speaks enough of S3 (multipart uploads, ranged GETs, ListObjectsV2) for the SDK, but it
 * is not AWS: the S3 store is tested against it, not against real S3.
 */
export async function startFakeS3(bucket = 'edgeloop-test'): Promise<FakeS3> {
  const directory = await mkdtemp(join(tmpdir(), 'edgeloop-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
