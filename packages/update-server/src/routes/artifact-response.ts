import type { BlobStore } from '../blobs/blob-store.js';
import { ServerError } from '../errors.js';

/**
 * Serves a content-addressed blob. The hash is the identity, so the ETag is the hash (strong) and
 * the bytes can be cached forever. Single byte ranges are answered with 206 so a dropped download
 * can resume; If-Range with a different validator falls back to the whole body (RFC 9110 §13.1.5).
 */
export async function artifactResponse(request: Request, blobs: BlobStore, sha256: string): Promise<Response> {
  const info = await blobs.stat(sha256);
  if (!info) throw new ServerError('not_found', `no artifact with sha256 ${sha256}`);
  const etag = `"${sha256}"`;
  const headers = new Headers({
    ETag: etag,
    'Cache-Control': 'public, max-age=31536000, immutable',
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
  });
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch !== null && ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }
  const isHead = request.method === 'HEAD';
  const rangeHeader = request.headers.get('range');
  const ifRange = request.headers.get('if-range');
  const range = rangeHeader !== null && (ifRange === null || ifRange === etag) ? parseRange(rangeHeader, info.size) : null;
  if (range === 'unsatisfiable') {
    headers.set('Content-Range', `bytes */${info.size}`);
    return new Response(null, { status: 416, headers });
  }
  if (range) {
    headers.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
    headers.set('Content-Length', String(range.end - range.start + 1));
    return new Response(isHead ? null : blobs.read(sha256, range), { status: 206, headers });
  }
  headers.set('Content-Length', String(info.size));
  return new Response(isHead || info.size === 0 ? null : blobs.read(sha256), { status: 200, headers });
}

/** Parses a single `bytes=` range; multi-range requests are answered with the whole body. */
function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
