// onnxruntime-web's types are onnxruntime-common's, which onnxruntime-node exports too; importing
// them from onnxruntime-web keeps the published .d.ts free of a package the app may not install.
import type { InferenceSession } from 'onnxruntime-web';
import type { Engine } from '../engine/engine.js';
import type { BackendOptions } from '../engine/backends.js';
import { onnxEngine, onnxSession } from '../engine/onnx-engine.js';
import { RuntimeError } from '../errors.js';

/** What the runtime uses of onnxruntime-node; its own types are onnxruntime-common's, like onnxruntime-web's. */
export interface OnnxruntimeNode {
  InferenceSession: typeof import('onnxruntime-web').InferenceSession;
  Tensor: typeof import('onnxruntime-web').Tensor;
  env: { versions: { node?: string } };
  listSupportedBackends(): Array<{ name: string; bundled: boolean }>;
}

export interface NodeOnnxEngineOptions {
  /**
   * Imports onnxruntime-node. Default: `import('onnxruntime-node')`, resolved from the app's
   * node_modules the first time a model asks for the `native` backend.
   */
  importNative?: () => Promise<OnnxruntimeNode>;
}

/**
 * The ONNX engine of Node hosts: onnxruntime-node (the native library, CPU execution provider) for
 * the `native` backend, and onnxruntime-web's Node build for `webgpu` and `wasm`. onnxruntime-node
 * is an optional dependency of the app: it is imported only when a model lists `native`, and when
 * it is missing `native` is skipped with the reason, like any other backend that cannot run.
 * The two libraries keep separate backend registries (onnxruntime-web bundles its own
 * onnxruntime-common), so one cannot silently serve a session asked of the other.
 */
export async function nodeOnnxEngine(options: NodeOnnxEngineOptions = {}): Promise<Engine> {
  const web = await onnxEngine();
  const importNative = options.importNative ?? defaultImportNative;
  let native: OnnxruntimeNode | undefined;
  return {
    name: 'onnxruntime (native: onnxruntime-node; webgpu, wasm: onnxruntime-web)',
    backends: ['native', ...web.backends],

    configure(backendOptions) {
      web.configure(backendOptions);
      const threads = backendOptions.native?.intraOpNumThreads;
      if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
        throw new RuntimeError('invalid_argument', `native.intraOpNumThreads must be a positive integer; got ${threads}`);
      }
    },

    async initBackend(backend, backendOptions) {
      if (backend !== 'native') return web.initBackend(backend, backendOptions);
      const ort = await importNative().catch(explainImportFailure);
      // Verified, not assumed: a bundler alias or a stub could hand back onnxruntime-web, which has no native CPU provider.
      if (!ort.env.versions.node) throw new Error('the module imported as onnxruntime-node is not onnxruntime-node (env.versions.node is not set)');
      if (!ort.listSupportedBackends().some((b) => b.name === 'cpu' && b.bundled)) {
        throw new Error(`onnxruntime-node ${ort.env.versions.node} has no bundled CPU execution provider on ${process.platform}/${process.arch}`);
      }
      native = ort;
    },

    async createSession(files, backend, backendOptions) {
      if (backend !== 'native') return web.createSession(files, backend, backendOptions);
      const ort = native!;
      // Only the CPU provider: given a list, onnxruntime falls back silently, and `native` names the CPU one.
      const session: InferenceSession = await ort.InferenceSession.create(new Uint8Array(files.model), sessionOptions(backendOptions));
      return onnxSession(ort, session, 'native', null);
    },
  };
}

function sessionOptions(options: BackendOptions): InferenceSession.SessionOptions {
  const threads = options.native?.intraOpNumThreads;
  return { executionProviders: ['cpu'], graphOptimizationLevel: 'all', ...(threads !== undefined && { intraOpNumThreads: threads }) };
}

async function defaultImportNative(): Promise<OnnxruntimeNode> {
  // onnxruntime-node is CommonJS; its exports arrive as named exports and as `default`.
  const module = (await import('onnxruntime-node')) as OnnxruntimeNode & { default?: OnnxruntimeNode };
  return module.default ?? module;
}

function explainImportFailure(error: unknown): never {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    throw new Error(`onnxruntime-node is not installed; add it to the app (npm i onnxruntime-node) or leave "native" out of backends (${(error as Error).message})`, { cause: error });
  }
  throw new Error(`onnxruntime-node could not be loaded: ${(error as Error).message}`, { cause: error });
}
