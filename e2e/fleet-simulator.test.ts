import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '@edgeloop/telemetry';
import { createFleet, ICC, INFERENCES_PER_DAY } from '../bench/loop/fleet.js';
import { LoopServer } from '../bench/loop/server.js';
import { runScenario, simulatorProfile } from '../bench/loop/setup.js';

/**
 * The fleet simulator of `npm run bench:loop` against the real update server: the model has the
 * heterogeneity it claims, the server's decisions equal `decide` on the simulator's own releases at
 * every hour, and real reports over HTTP through the real ingest lead to the same decisions.
 */
describe('the fleet simulator (bench:loop)', () => {
  let server: LoopServer;

  beforeAll(async () => {
    server = await LoopServer.open(simulatorProfile());
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('draws devices with a 1 % mean error rate and the stated between-device heterogeneity', () => {
    const fleet = createFleet(40_000, seededRng(5));
    const p = Array.from(fleet.errorProbability);
    const mean = p.reduce((a, b) => a + b, 0) / p.length;
    expect(mean).toBeGreaterThan(0.009);
    expect(mean).toBeLessThan(0.011);
    // Latent-scale ICC 0.3: the logit of p has variance 0.3/0.7 · π²/3.
    const logits = p.map((x) => Math.log(x / (1 - x)));
    const m = logits.reduce((a, b) => a + b, 0) / logits.length;
    const variance = logits.reduce((a, b) => a + (b - m) ** 2, 0) / (logits.length - 1);
    const icc = variance / (variance + (Math.PI * Math.PI) / 3);
    expect(icc).toBeGreaterThan(ICC - 0.02);
    expect(icc).toBeLessThan(ICC + 0.02);
    // Devices differ far more than 50 inferences a day would by chance: the device, not the inference, is the unit.
    const share = fleet.backend.reduce((a, b) => a + b, 0) / fleet.size;
    expect(share).toBeGreaterThan(0.29);
    expect(share).toBeLessThan(0.31);
    expect(INFERENCES_PER_DAY).toBe(50);
  });

  it('rolls a crash loop back through real reports over HTTP, deciding every hour exactly as decide() does on the same releases', async () => {
    const run = await runScenario(server, { scenario: 'crash_loop', size: 20_000, seed: 11, via: 'http' });
    expect(run.firstMismatch).toBeUndefined();
    expect(run.mismatches).toBe(0);
    expect(run).toMatchObject({ outcome: 'rolled_back', endStep: 0 });
    expect(run.reason).toMatch(/^rolled back: (reverts|errors) /);
    expect(run.reports).toBeGreaterThan(1000);
    expect(run.trail.at(-1)).toMatch(/:rollback$/);
  });

  it('agrees with decide() at every hour when the releases are injected, and holds a too-small step until it pauses for a person', async () => {
    // 20,000 devices: the 1 % step has 200 candidates, too few to tell +50 % errors within 48 h.
    const run = await runScenario(server, { scenario: 'errors_plus50pct', size: 20_000, seed: 12, via: 'releases' });
    expect(run.mismatches).toBe(0);
    expect(run).toMatchObject({ outcome: 'paused', endStep: 0, maxPercentage: 1 });
    expect(run.reason).toMatch(/^paused after 48 h: inconclusive on /);
    expect(run.trail.filter((t) => t.endsWith(':hold')).length).toBeGreaterThan(40);
  });
});
