/**
 * One process of the crash-loop test (health/crash-loop.node.test.ts): loads model `vad` over a
 * filesystem store and prints `{ version, health }`; then `hang` keeps running (until killed, as a
 * crash would end it) and `clean` disposes the runtime and exits. Run with
 * `node --import tsx --conditions=@edgeloop/source`.
 */
import { createRuntime } from '../../runtime.js';
import { fileSystemStore } from '../../storage/filesystem-store.js';
import { RecordingHost } from '../../testing/recording-host.js';

const [serverUrl, directory, publicKey, mode] = process.argv.slice(2) as [string, string, string, 'hang' | 'clean'];
const runtime = createRuntime({ serverUrl, app: 'demo', host: new RecordingHost(), backends: ['wasm'], storage: fileSystemStore({ directory }), trust: { publicKeys: [publicKey] } });
const model = await runtime.load('vad');
process.stdout.write(`${JSON.stringify({ version: model.version, health: model.health.state })}\n`);
if (mode === 'clean') {
  await runtime.dispose();
  process.exit(0);
}
setInterval(() => undefined, 60_000); // a page that keeps running the trial, until it is killed
