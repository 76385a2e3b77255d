import type { DeviceContext } from '@edgeloop/protocol';

interface GpuLike {
  requestAdapter(): Promise<{ features: Iterable<string> } | null>;
}

/**
 * Gathers what targeting rules can test, in the browser: platform, locale and whether WebGPU (with
 * which features) is available. Called when the app asks, never at import time. The app adds its
 * own version and attributes.
 */
export async function detectDeviceContext(extra: Pick<DeviceContext, 'appVersion' | 'attributes' | 'platform'> = {}): Promise<DeviceContext> {
  const nav = (globalThis as { navigator?: { language?: string; gpu?: GpuLike } }).navigator;
  const backends: Record<string, string[]> = { wasm: [] };
  try {
    const adapter = await nav?.gpu?.requestAdapter();
    if (adapter) backends.webgpu = [...adapter.features];
  } catch {
    // No usable WebGPU adapter is a fact about the device, not an error: webgpu stays absent.
  }
  return { platform: extra.platform ?? 'web', ...(nav?.language && { locale: nav.language }), backends, ...extra };
}
