import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import * as tar from 'tar';

/**
 * A fresh PGlite data directory — what initdb writes — shipped with the package. Running initdb
 * in WASM takes 5–6 s and about 800 MiB (PGlite boots a second instance for it); unpacking this
 * takes a fraction of a second, so a new data directory starts as fast as an existing one.
 * `npm run make:pglite-template` writes it again after PGlite is upgraded.
 */
export const TEMPLATE_FILE = fileURLToPath(new URL('../../assets/pglite-template.tar.gz', import.meta.url));
const INFO_FILE = fileURLToPath(new URL('../../assets/pglite-template.json', import.meta.url));

interface TemplateInfo {
  /** The @electric-sql/pglite version whose initdb wrote the template. */
  pglite: string;
}

/** The installed @electric-sql/pglite version (its exports map hides package.json: found next to dist/). */
export function installedPgliteVersion(): string {
  const wasm = createRequire(import.meta.url).resolve('@electric-sql/pglite/pglite.wasm');
  const manifest = JSON.parse(readFileSync(join(dirname(wasm), '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** Why the shipped template cannot be used with the installed PGlite, or null when it can. */
export function templateMismatch(): string | null {
  let info: TemplateInfo;
  try {
    info = JSON.parse(readFileSync(INFO_FILE, 'utf8')) as TemplateInfo;
  } catch (error) {
    return `no PGlite template (${(error as Error).message})`;
  }
  const installed = installedPgliteVersion();
  if (info.pglite !== installed) return `the PGlite template was made by PGlite ${info.pglite}, PGlite ${installed} is installed`;
  return null;
}

/** The template as a tarball for PGlite's `loadDataDir` (in-memory databases). */
export async function templateTarball(): Promise<Blob> {
  return new Blob([await readFile(TEMPLATE_FILE)]);
}

/**
 * Unpacks the template as `directory`, which must be missing or empty. It is unpacked beside it
 * and renamed into place, so a crash leaves either no database or a whole one; leftovers of an
 * interrupted unpack are removed first.
 */
export async function createFromTemplate(directory: string): Promise<void> {
  const parent = dirname(directory);
  const prefix = `${basename(directory)}.template-`;
  await mkdir(parent, { recursive: true });
  for (const name of await readdir(parent)) {
    if (name.startsWith(prefix)) await rm(join(parent, name), { recursive: true, force: true });
  }
  const staging = join(parent, `${prefix}${randomUUID()}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    tar.x({ file: TEMPLATE_FILE, cwd: staging, strict: true, sync: true }); // ~1,000 files: sync is about twice as fast
    await rm(directory, { recursive: false, force: true }).catch((error: NodeJS.ErrnoException) => {
      // rm without recursive refuses a directory: an empty one is removed with rmdir semantics below.
      if (error.code !== 'ERR_FS_EISDIR' && error.code !== 'EISDIR') throw error;
    });
    await rename(staging, directory); // replaces an empty directory; refuses (ENOTEMPTY) a non-empty one
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Runs PGlite's initdb in a temporary directory and writes its output as the template (maintainers). */
export async function makeTemplate(): Promise<{ file: string; bytes: number; pglite: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-pglite-template-'));
  try {
    const dataDir = join(dir, 'db');
    const pg = new PGlite(dataDir);
    await pg.waitReady;
    await pg.close(); // a clean shutdown: checkpointed, no postmaster.pid
    await tar.c({ gzip: { level: 9 }, file: TEMPLATE_FILE, cwd: dataDir, portable: true }, await readdir(dataDir));
    const info: TemplateInfo = { pglite: installedPgliteVersion() };
    await writeFile(INFO_FILE, `${JSON.stringify(info, null, 2)}\n`);
    return { file: TEMPLATE_FILE, bytes: (await readFile(TEMPLATE_FILE)).byteLength, pglite: info.pglite };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
