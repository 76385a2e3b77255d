import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { modelReleaseSchema, type ModelRelease } from '../manifest/manifest.js';
import { selectRelease } from './evaluate.js';
import type { DeviceContext } from './targeting.js';

const file = (hex: string) => ({ role: 'model' as const, sha256: hex.repeat(64), length: 10, url: `v1/artifacts/sha256/${hex.repeat(64)}` });

function entry(percentage: number, extra: Partial<ModelRelease> = {}): ModelRelease {
  return {
    model: 'vad',
    version: '5.0.0',
    releaseId: 'vad@5.0.0',
    format: 'onnx',
    files: [file('a')],
    rollout: {
      id: 'r1',
      salt: 'vad:6.0.0:r1',
      percentage,
      candidate: {
        version: '6.0.0',
        releaseId: 'vad@6.0.0',
        format: 'onnx',
        files: [file('b')],
        variants: [{ variant: 'fp16', releaseId: 'vad@6.0.0/fp16', format: 'onnx', files: [file('c')], backend: 'webgpu', precision: 'fp16' }],
      },
    },
    ...extra,
  };
}

const device: fc.Arbitrary<DeviceContext> = fc.record(
  {
    platform: fc.constantFrom('web', 'electron', 'kiosk'),
    appVersion: fc.constantFrom('1.0.0', '2.3.1', '3.0.0'),
    locale: fc.constantFrom('en-GB', 'de-DE', 'fr'),
    backends: fc.constantFrom<Record<string, string[]>>({ wasm: [] }, { wasm: [], webgpu: [] }, { wasm: [], webgpu: ['shader-f16'] }),
    attributes: fc.record({ tier: fc.constantFrom('free', 'pro') }),
  },
  { requiredKeys: [] },
);
const pct = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);

describe('selectRelease', () => {
  it('uses entries the manifest schema accepts', () => {
    expect(modelReleaseSchema.parse(entry(5))).toEqual(entry(5));
    expect(modelReleaseSchema.safeParse(entry(101)).success).toBe(false);
  });

  it('serves the candidate to a sticky share and reports the cohort', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `install-${i}`);
    const picks = ids.map((id) => selectRelease(entry(25), id));
    const candidates = picks.filter((p) => p.cohort?.arm === 'candidate');
    expect(candidates.every((p) => p.release.version === '6.0.0' && p.release.files[0]!.sha256 === 'b'.repeat(64))).toBe(true);
    expect(picks.filter((p) => p.cohort?.arm === 'control').every((p) => p.release.version === '5.0.0')).toBe(true);
    expect(candidates.length / ids.length).toBeGreaterThan(0.2);
    expect(candidates.length / ids.length).toBeLessThan(0.3);
    expect(picks.map((p) => p.cohort?.arm)).toEqual(ids.map((id) => selectRelease(entry(25), id).cohort?.arm));
  });

  it('raising the percentage never moves a device off the candidate', () => {
    fc.assert(
      fc.property(fc.uuid(), device, pct, pct, (id, d, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        if (selectRelease(entry(low), id, d).release.version === '6.0.0') expect(selectRelease(entry(high), id, d).release.version).toBe('6.0.0');
      }),
      { numRuns: 1000 },
    );
  });

  it('rolling back moves exactly the devices that had the candidate', () => {
    fc.assert(
      fc.property(fc.array(fc.uuid(), { minLength: 1, maxLength: 200 }), pct, (ids, p) => {
        const during = entry(p);
        const { rollout: _dropped, ...after } = during; // rollback: the manifest loses the rollout
        for (const id of ids) {
          const before = selectRelease(during, id).release.releaseId;
          const now = selectRelease(after, id).release.releaseId;
          expect(before !== now).toBe(before === 'vad@6.0.0');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('keeps devices outside the audience on the control release', () => {
    fc.assert(
      fc.property(fc.uuid(), device, (id, d) => {
        const e = entry(100, {});
        e.rollout!.audience = [{ platforms: ['web'], appVersion: '>=2 <3' }, { locales: ['de'] }];
        const eligible = (d.platform === 'web' && d.appVersion === '2.3.1') || d.locale === 'de-DE';
        const pick = selectRelease(e, id, d);
        expect(pick.cohort).toEqual({ rollout: 'r1', arm: eligible ? 'candidate' : 'excluded', step: 0 });
        expect(pick.release.version).toBe(eligible ? '6.0.0' : '5.0.0');
      }),
    );
  });

  it('lets a rule pick a variant the served release has', () => {
    const rules = [{ when: { backend: { name: 'webgpu', features: ['shader-f16'] }, attributes: { tier: ['pro'] } }, variant: 'fp16' }];
    fc.assert(
      fc.property(fc.uuid(), device, (id, d) => {
        const pick = selectRelease(entry(100, { rules }), id, d);
        const f16 = (d.backends as Record<string, string[]> | undefined)?.webgpu?.includes('shader-f16') === true && d.attributes?.tier === 'pro';
        expect(pick.variant).toBe(f16 ? 'fp16' : null);
        expect(pick.release.releaseId).toBe(f16 ? 'vad@6.0.0/fp16' : 'vad@6.0.0');
        // The control release has no fp16 variant: the same rule leaves it on its default files.
        expect(selectRelease(entry(0, { rules }), id, d).variant).toBeNull();
      }),
    );
  });
});
