export { workerThreadsHost, type WorkerThreadsHostOptions } from './worker-threads-host.js';
export { fileSystemStore, type FileSystemStoreOptions } from '../storage/filesystem-store.js';
export { fileTelemetryStorage, type FileTelemetryStorageOptions } from './file-telemetry-storage.js';
export type { FileLockOptions } from './file-lock.js';
export { nodeEngineLoaders } from './node-engines.js';
export { nodeOnnxEngine, type NodeOnnxEngineOptions, type OnnxruntimeNode } from './onnx-node-engine.js';
