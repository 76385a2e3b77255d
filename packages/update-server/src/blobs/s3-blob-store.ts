import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ServerError } from '../errors.js';
import type { SharedBlobStore } from './blob-store.js';
import { lazyStream, verifiedStream } from './streams.js';

export interface S3BlobsOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. `edgeloop/`; blobs live at `<prefix>sha256/<hash>`. Default none. */
  prefix?: string;
  /** Multipart part size: with `queueSize` parts in flight, the most an upload holds in memory. Default 5 MiB (S3's minimum). */
  partBytes?: number;
  /** Parts uploaded at once. Default 2. */
  queueSize?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Blobs in an S3-compatible bucket through the AWS SDK. An object appears only when its upload
 * completes (a single PUT, or a multipart upload that is aborted on any failure, including bytes
 * that do not hash to their name), so a reader never sees part of a blob. A Range is a ranged GET.
 */
export function s3Blobs(options: S3BlobsOptions): SharedBlobStore {
  const { client, bucket } = options;
  const prefix = options.prefix ?? '';
  const keyOf = (sha256: string) => `${prefix}sha256/${sha256}`;
  const description = `s3://${bucket}/${prefix}`;

  return {
    description,

    async put(sha256, size, body) {
      // Always uploaded, even when the object exists: S3 has no cheap "touch", and a fresh
      // LastModified is what keeps GC off a blob that a publish in flight is about to reference.
      const source = recordingFailure(verifiedStream(body, sha256, size));
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: keyOf(sha256), Body: source.stream, ContentType: 'application/octet-stream', ContentLength: size },
        partSize: options.partBytes ?? 5 * 1024 * 1024,
        queueSize: options.queueSize ?? 2,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        // When the bytes failed, that is the reason to report; the SDK may instead throw what S3
        // answered next (s3rver, for one, refuses the multipart abort that follows).
        const cause = source.failure();
        if (cause === undefined || cause === error) throw error;
        throw new ServerError(
          'internal',
          `${(cause as Error).message} (then ${description} answered: ${(error as Error).message}; parts of an unfinished multipart upload of ${keyOf(sha256)} stay invisible until an AbortIncompleteMultipartUpload lifecycle rule removes them)`,
        );
      }
    },

    async stat(sha256) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(sha256) }));
        return { size: head.ContentLength ?? 0 };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },

    read(sha256, range) {
      return lazyStream(async () => {
        try {
          const got = await client.send(
            new GetObjectCommand({ Bucket: bucket, Key: keyOf(sha256), ...(range && { Range: `bytes=${range.start}-${range.end}` }) }),
          );
          if (!got.Body) throw new ServerError('internal', `${description} answered GET ${keyOf(sha256)} without a body`);
          const body = got.Body.transformToWebStream() as ReadableStream<Uint8Array>;
          return range ? await exactRange(body, range, got.ContentRange, description) : body;
        } catch (error) {
          if (isNotFound(error)) throw new ServerError('not_found', `no blob ${sha256} in ${description}`);
          throw error;
        }
      });
    },

    async *list() {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: `${prefix}sha256/` })) {
        for (const object of page.Contents ?? []) {
          const name = object.Key?.slice(prefix.length + 'sha256/'.length) ?? '';
          if (SHA256.test(name) && object.LastModified) yield { sha256: name, writtenAt: object.LastModified };
        }
      }
    },

    async delete(sha256) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(sha256) }));
    },
  };
}

/** Fails with a message that names the fix when the bucket cannot be reached; run once at start. */
export async function checkBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const detail = error instanceof S3ServiceException ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'})` : (error as Error).message;
    throw new ServerError(
      'internal',
      `the blob store bucket "${bucket}" is not usable: ${detail}. Create the bucket, or set AWS_ENDPOINT_URL_S3 (S3-compatible stores), AWS_REGION and credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)`,
    );
  }
}

/**
 * The bytes of `range` from a ranged GET. A store that answers with a longer range than asked
 * (s3rver does for `bytes=0-0`) is cut to size, so a 206 never sends more than its Content-Length;
 * one that starts elsewhere or sends less is an error, never wrong bytes.
 */
async function exactRange(
  body: ReadableStream<Uint8Array>,
  range: { start: number; end: number },
  contentRange: string | undefined,
  description: string,
): Promise<ReadableStream<Uint8Array>> {
  const match = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  if (!match || Number(match[1]) !== range.start || Number(match[2]) < range.end) {
    await body.cancel();
    throw new ServerError('internal', `${description} answered bytes=${range.start}-${range.end} with Content-Range "${contentRange ?? ''}"; is it S3-compatible?`);
  }
  if (Number(match[2]) === range.end) return body;
  let left = range.end - range.start + 1;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done || left <= 0) {
          controller.close();
          if (!done) await reader.cancel();
          return;
        }
        const piece = value.byteLength > left ? value.subarray(0, left) : value;
        left -= piece.byteLength;
        controller.enqueue(piece);
        if (left === 0) {
          controller.close();
          await reader.cancel();
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** Passes a stream through and remembers why it failed, if it did. */
function recordingFailure(source: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; failure: () => unknown } {
  const reader = source.getReader();
  let failure: unknown;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          failure = error;
          throw error;
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { stream, failure: () => failure };
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404);
}
