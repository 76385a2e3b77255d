import type { BackendName, BackendOptions } from './backends.js';

type Tf = typeof import('@tensorflow/tfjs-core');

/**
 * Registers and selects one TF.js backend. Each backend package is imported only when a model asks
 * for it, so an app that runs TF.js on WASM never downloads the WebGPU kernels.
 * Throws the reason when the backend cannot run here; TF.js itself only logs it and returns false.
 */
export async function initTfjsBackend(tf: Tf, backend: BackendName, options: BackendOptions): Promise<void> {
  switch (backend) {
    case 'webgpu': {
      const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
      if (!gpu) throw new Error('navigator.gpu is not defined here');
      if (!(await gpu.requestAdapter())) throw new Error('navigator.gpu.requestAdapter() returned null');
      await import('@tensorflow/tfjs-backend-webgpu');
      break;
    }
    case 'webgl': {
      // TF.js draws on a canvas (OffscreenCanvas in a worker). Checked first so the reason is ours,
      // not a console warning: no canvas at all (Node), or a browser that gives no WebGL2 context.
      const reason = webglUnavailable();
      if (reason) throw new Error(reason);
      await import('@tensorflow/tfjs-backend-webgl');
      break;
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // The first configure() checked these settings; they must reach the module before setBackend.
      const threads = options.wasm?.numThreads ?? 1;
      // One thread unless asked: TF.js would otherwise pick its threaded build whenever the page is
      // isolated, and start a pthread pool the app did not ask for.
      if (threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      else wasm.setThreadsCount(threads);
      if (options.wasm?.tfjsWasmPaths !== undefined) wasm.setWasmPaths(options.wasm.tfjsWasmPaths);
      break;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
    default:
      throw new Error(`TF.js has no "${backend}" backend`);
  }
  if (!(await tf.setBackend(backend))) {
    throw new Error(`TF.js could not initialise its "${backend}" backend (TF.js logged the cause as a console warning)`);
  }
  // Verified, not assumed: TF.js keeps the previous backend when a new one fails to start.
  if (tf.getBackend() !== backend) throw new Error(`TF.js reports backend "${tf.getBackend()}" after selecting "${backend}"`);
}

function webglUnavailable(): string | null {
  const scope = globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(type: string): unknown }; document?: { createElement(tag: 'canvas'): { getContext(type: string): unknown } } };
  const canvas = scope.OffscreenCanvas ? new scope.OffscreenCanvas(1, 1) : scope.document?.createElement('canvas');
  if (!canvas) return 'WebGL needs a canvas, and neither OffscreenCanvas nor document exists here';
  return canvas.getContext('webgl2') || canvas.getContext('webgl') ? null : 'this browser gives no WebGL context (WebGL disabled, blocklisted GPU, or no software fallback)';
}
