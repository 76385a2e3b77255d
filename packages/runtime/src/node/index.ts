export { workerThreadsHost, type WorkerThreadsHostOptions } from './worker-threads-host.js';
export { fileSystemStore, type FileSystemStoreOptions } from '../storage/filesystem-store.js';
