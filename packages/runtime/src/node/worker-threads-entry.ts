import { parentPort } from 'node:worker_threads';
import { serveEngineHost } from '../host/serve-host.js';
import { nodeEndpoint } from './node-endpoint.js';
import { nodeEngineLoaders } from './node-engines.js';

// A Node worker thread's whole job: host engine sessions for the thread that started it.
if (!parentPort) throw new Error('worker-threads-entry must run in a worker thread (new Worker(...)), not as a main script');
// Node's engines: ONNX may also run on onnxruntime-node (`native`) when the app installed it.
serveEngineHost(nodeEndpoint(parentPort), { engines: nodeEngineLoaders });
