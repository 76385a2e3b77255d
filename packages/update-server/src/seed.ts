import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Registry } from './registry/registry.js';

/** What a fresh data directory starts with, so the demo runs on first start. */
export const DEMO_SEED = { app: 'demo', model: 'vad', version: '5.0.0', file: '@ricky0123/vad-web/dist/silero_vad_v5.onnx' };

/**
 * Publishes Silero VAD v5 as `demo/vad@5.0.0` when the registry has no apps yet. The model comes
 * from the @ricky0123/vad-web package (a devDependency): without it, seeding is skipped and said so.
 */
export async function seedIfEmpty(registry: Registry, log: (message: string) => void): Promise<boolean> {
  // "Empty" means no model anywhere: a data directory with only a bootstrap token is still fresh.
  for (const app of await registry.listApps()) {
    if ((await registry.listModels(app.name)).length > 0) return false;
  }
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(DEMO_SEED.file);
  } catch {
    log(`not seeding the demo model: ${DEMO_SEED.file} is not installed (npm install @ricky0123/vad-web)`);
    return false;
  }
  const bytes = await readFile(path);
  await registry.publish({
    app: DEMO_SEED.app,
    model: DEMO_SEED.model,
    version: DEMO_SEED.version,
    format: 'onnx',
    publisher: 'seed',
    body: new Blob([bytes]).stream(),
  });
  log(`seeded ${DEMO_SEED.app}/${DEMO_SEED.model}@${DEMO_SEED.version} (Silero VAD v5, ${bytes.byteLength} bytes)`);
  return true;
}
