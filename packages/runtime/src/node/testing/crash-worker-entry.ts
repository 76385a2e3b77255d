import { parentPort } from 'node:worker_threads';
import { FakeEngine } from '../../engine/testing/fake-engine.js';
import { serveEngineHost } from '../../host/serve-host.js';
import { nodeEndpoint } from '../node-endpoint.js';

// A worker thread whose engine dies mid-call when asked to double 666: what an engine abort or an
// out-of-memory kill looks like from the host's side.
const engine = new FakeEngine();
const run = engine.createSession.bind(engine);
engine.createSession = async (files, backend) => {
  const session = await run(files, backend);
  return {
    ...session,
    run: async (feeds) => {
      if ((feeds.x!.data as Float32Array)[0] === 666) setTimeout(() => process.exit(3), 20);
      else return session.run(feeds);
      return new Promise(() => {});
    },
  };
};
serveEngineHost(nodeEndpoint(parentPort!), { engines: { onnx: { library: 'fake', load: async () => engine } } });
