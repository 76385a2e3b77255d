import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stagingName, sweepStaging } from './fs-staging.js';

describe('sweepStaging', () => {
  let root: string;
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('removes partial uploads nobody will finish and leaves those a live process is writing', async () => {
    root = await mkdtemp(join(tmpdir(), 'edgeloop-staging-'));
    const tmp = join(root, 'tmp');
    await mkdir(tmp);
    const deadPid = 2 ** 22 + 7; // above Linux's pid_max: no such process
    const files = {
      ownEarlierLife: stagingName(), // same pid as ours: a container's pid 1 after a restart
      deadProcess: `upload.${deadPid}.3f0c.${hostname()}`,
      liveProcess: `upload.${process.ppid}.3f0d.${hostname()}`,
      otherHostFresh: 'upload.1234.3f0e.another-host.example',
      otherHostStale: 'upload.1234.3f0f.another-host.example',
      olderServerFresh: 'upload-4c1b2f3e',
      olderServerStale: 'upload-4c1b2f3f',
    };
    for (const name of Object.values(files)) await writeFile(join(tmp, name), 'partial');
    const hourAndABitAgo = new Date(Date.now() - 61 * 60 * 1000);
    for (const name of [files.otherHostStale, files.olderServerStale]) await utimes(join(tmp, name), hourAndABitAgo, hourAndABitAgo);

    expect(await sweepStaging(root)).toBe(4);
    expect((await readdir(tmp)).sort()).toEqual([files.liveProcess, files.olderServerFresh, files.otherHostFresh].sort());
  });

  it('is a no-op without a staging directory', async () => {
    expect(await sweepStaging(join(root, 'nothing-here'))).toBe(0);
  });
});
