import { checkGoldenCase, parseGolden, ProtocolError, type GoldenTolerance, type ModelRelease } from '@edgeloop/protocol';
import type { EngineHost, SessionInfo } from '../engine/engine-host.js';
import { validateFeeds } from '../engine/validate-feeds.js';
import { RuntimeError } from '../errors.js';

export type GoldenOutcome =
  | { ok: true; cases: number }
  | { ok: false; reason: 'golden_mismatch' | 'nan'; detail: string; crashed: boolean };

/** The golden files of a release, in manifest order. */
export function goldenFilesOf(release: ModelRelease, files: ReadonlyMap<string, ArrayBuffer>): ArrayBuffer[] {
  return release.files.filter((file) => file.role === 'golden').flatMap((file) => {
    const bytes = files.get(file.sha256);
    if (!bytes) throw new RuntimeError('storage', `release ${release.releaseId} is missing the bytes of golden file ${file.sha256}`);
    return [bytes];
  });
}

/**
 * Runs every golden case of a release on `session` — on the backend it actually uses — and compares
 * the outputs (tolerance: the output's own, else `tolerance` from the release's policy). Stops at
 * the first failure: any NaN or Infinity is `nan`; anything else that is off (values, shape, a case
 * the session cannot take, a run that fails) is `golden_mismatch`. These runs are not real
 * inferences: telemetry and the early-life checks never see them.
 */
export async function runGolden(host: EngineHost, session: SessionInfo, golden: readonly ArrayBuffer[], tolerance: GoldenTolerance, label: string): Promise<GoldenOutcome> {
  let cases = 0;
  for (const [index, bytes] of golden.entries()) {
    let parsed;
    try {
      parsed = parseGolden(new Uint8Array(bytes));
    } catch (error) {
      if (error instanceof ProtocolError) return { ok: false, reason: 'golden_mismatch', detail: `golden file ${index + 1}: ${error.message}`, crashed: false };
      throw error;
    }
    for (const goldenCase of parsed.cases) {
      const where = `golden case "${goldenCase.name}" on ${session.backend}`;
      try {
        validateFeeds(label, session.signature.inputs, goldenCase.inputs);
      } catch (error) {
        return { ok: false, reason: 'golden_mismatch', detail: `${where}: ${(error as Error).message}`, crashed: false };
      }
      let outputs;
      try {
        outputs = (await host.run(session.id, goldenCase.inputs)).outputs;
      } catch (error) {
        const failure = RuntimeError.fromUnknown(error);
        return { ok: false, reason: 'golden_mismatch', detail: `${where}: the run failed (${failure.code}: ${failure.message})`, crashed: failure.code === 'worker' };
      }
      const check = checkGoldenCase(goldenCase, outputs, tolerance);
      if (!check.ok) {
        const failed = check.outputs.filter((o) => !o.ok);
        return {
          ok: false,
          reason: failed.some((o) => o.failure === 'nan') ? 'nan' : 'golden_mismatch',
          detail: `${where}: ${failed.map((o) => o.message).join('; ')}`,
          crashed: false,
        };
      }
      cases += 1;
    }
  }
  return { ok: true, cases };
}
