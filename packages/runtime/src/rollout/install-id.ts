/** Where the install id lives: `localStorage` in browsers, a file or memory elsewhere. */
export interface InstallIdStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
}

const KEY = 'edgeloop.install-id';

/**
 * The device's random install id: 128 bits from `crypto.getRandomValues`, created once and kept
 * in `storage`. It is only ever hashed on the device (rollout buckets) and never sent anywhere.
 */
export async function installId(storage: InstallIdStorage): Promise<string> {
  const existing = await storage.get(KEY);
  if (existing && /^[0-9a-f]{32}$/.test(existing)) return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  await storage.set(KEY, id);
  // Storage shared by several processes keeps the id that was stored first: use that one.
  return (await storage.get(KEY)) ?? id;
}

/** `localStorage` as install id storage (browsers, Electron renderers). */
export function localStorageIds(storage: Pick<Storage, 'getItem' | 'setItem'> = globalThis.localStorage): InstallIdStorage {
  return { get: (key) => storage.getItem(key), set: (key, value) => storage.setItem(key, value) };
}

/** In-memory storage: tests, or devices that must not persist anything (a new bucket per start). */
export function memoryIds(): InstallIdStorage {
  const map = new Map<string, string>();
  return { get: (key) => map.get(key) ?? null, set: (key, value) => void map.set(key, value) };
}
