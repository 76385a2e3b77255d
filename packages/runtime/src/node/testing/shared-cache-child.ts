/**
 * One process of the shared-cache test (filesystem-store.shared.test.ts): starts `runtimes`
 * runtimes over one cache directory, loads every model with each at once, and prints one JSON
 * line per load. Run with `node --import tsx --conditions=@edgeloop/source`.
 */
import { createRuntime } from '../../runtime.js';
import { fileSystemStore } from '../../storage/filesystem-store.js';
import { RecordingHost } from '../../testing/recording-host.js';

const [serverUrl, directory, publicKey, models, runtimes] = process.argv.slice(2) as [string, string, string, string, string];
const loads = Array.from({ length: Number(runtimes) }, () => {
  const runtime = createRuntime({ serverUrl, app: 'demo', host: new RecordingHost(), storage: fileSystemStore({ directory }), trust: { publicKeys: [publicKey] } });
  return models.split(',').map(async (model) => {
    try {
      const loaded = await runtime.load(model);
      return { ok: true, model, version: loaded.version, source: loaded.source, cohort: loaded.delivery.cohort };
    } catch (error) {
      return { ok: false, model, error: (error as Error).message };
    }
  });
});
for (const result of await Promise.all(loads.flat())) process.stdout.write(`${JSON.stringify(result)}\n`);
// The runtimes keep a BroadcastChannel and timers open; this process has said all it had to.
process.exit(0);
