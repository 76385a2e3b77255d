/** The part of a WebGPU device the runtime watches; DOM's lib here has no WebGPU types. */
export interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
}

/** Calls `listener` once when `device` is lost, with the browser's reason and message. */
export function watchDeviceLost(device: GpuDeviceLike, listener: (reason: string) => void): void {
  void device.lost.then((info) => listener(`WebGPU device lost (${info.reason ?? 'unknown'}): ${info.message ?? ''}`.trimEnd()));
}
