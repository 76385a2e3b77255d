import { describe, expect, it } from 'vitest';
import type { ModelRelease } from '@edgeloop/protocol';
import { rolloutChooser } from './choose-release.js';
import { installId, memoryIds } from './install-id.js';

const file = (c: string) => ({ role: 'model' as const, sha256: c.repeat(64), length: 1, url: `v1/artifacts/sha256/${c.repeat(64)}` });
const entry = (percentage: number): ModelRelease => ({
  model: 'vad', version: '5.0.0', releaseId: 'a', format: 'onnx', files: [file('a')],
  rollout: { id: 'r1', salt: 's', percentage, candidate: { version: '6.0.0', releaseId: 'b', format: 'onnx', files: [file('b')] } },
});

describe('rollout on the device', () => {
  it('keeps one random install id in storage', async () => {
    const ids = memoryIds();
    const first = await installId(ids);
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(await installId(ids)).toBe(first);
    expect(await installId(memoryIds())).not.toBe(first);
  });

  it('stays on its side across polls and reports its cohort', async () => {
    const devices = Array.from({ length: 400 }, () => rolloutChooser({ ids: memoryIds() }));
    const first = await Promise.all(devices.map((d) => d.choose(entry(30))));
    const again = await Promise.all(devices.map((d) => d.choose(entry(30))));
    expect(again.map((s) => s.release.releaseId)).toEqual(first.map((s) => s.release.releaseId));
    const share = first.filter((s) => s.cohort?.arm === 'candidate').length / devices.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.4);
    expect(first.every((s) => (s.cohort?.arm === 'candidate') === (s.release.version === '6.0.0'))).toBe(true);
  });
});
