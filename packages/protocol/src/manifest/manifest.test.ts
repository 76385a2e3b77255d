import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_POLICY, resolveHealthPolicy } from './health-policy.js';
import { parseManifest } from './manifest.js';
import { selectRelease } from '../rollout/evaluate.js';

const sha = (digit: string) => digit.repeat(64);
const manifest = (release: Record<string, unknown>) => ({
  schema: 1,
  app: 'demo',
  version: 3,
  issuedAt: '2026-12-01T00:00:00.000Z',
  expires: '2026-12-02T00:00:00.000Z',
  models: {
    vad: {
      model: 'vad',
      version: '6.0.0',
      releaseId: 'vad@6.0.0#aaaa',
      format: 'onnx',
      files: [
        { role: 'model', sha256: sha('a'), length: 10, url: 'v1/artifacts/sha256/a' },
        { role: 'golden', sha256: sha('b'), length: 5, url: 'v1/artifacts/sha256/b' },
      ],
      ...release,
    },
  },
});

describe('manifest: golden files and the health policy', () => {
  it('lists golden files with the release and carries its signed health policy to the device', () => {
    const health = { inferences: 20, p95Ratio: 2, golden: { maxAbs: 0.001 } };
    const parsed = parseManifest(manifest({ health }));
    expect(parsed.models.vad!.files.map((f) => f.role)).toEqual(['model', 'golden']);
    expect(selectRelease(parsed.models.vad!, 'install-1').release.health).toEqual(health);
    expect(resolveHealthPolicy(parsed.models.vad!.health)).toEqual({ inferences: 20, p95Ratio: 2, errorRateDelta: 0.02, golden: { maxAbs: 0.001 } });
    expect(resolveHealthPolicy(undefined)).toEqual(DEFAULT_HEALTH_POLICY);
  });

  it('stays strict: unknown roles and bad policy fields are refused by name', () => {
    const weird = manifest({});
    (weird.models.vad.files[1] as { role: string }).role = 'goldens';
    expect(() => parseManifest(weird)).toThrow(/models\.vad\.files\.1\.role/);
    expect(() => parseManifest(manifest({ health: { p95Ratio: 0.5 } }))).toThrow(/models\.vad\.health\.p95Ratio/);
    expect(() => parseManifest(manifest({ health: { errorRateDelta: 2 } }))).toThrow(/models\.vad\.health\.errorRateDelta/);
    expect(() => parseManifest(manifest({ health: { golden: {} } }))).toThrow(/models\.vad\.health\.golden: give at least one of cosine, maxAbs, maxRel/);
  });
});
