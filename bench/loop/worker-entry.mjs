// Worker threads do not inherit the TypeScript loader that `node --import tsx` gave the main
// thread: register it here, then load the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
