import { resolve } from 'node:path';
import { serveViteBuild, type Site } from './vite-site.js';

export type DemoSite = Site;

/** The demo, built as it ships and served on loopback. */
export function serveDemo(): Promise<DemoSite> {
  return serveViteBuild(resolve(import.meta.dirname, '../../demo'));
}
