import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PostgresCluster {
  url: string;
  /** `pg_ctl stop -m fast`: what a restart or failover does to the server's connections. */
  stopFast(): Promise<void>;
  /** Starts the stopped cluster again on the same port, waiting until it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and deletes it. */
  stop(): Promise<void>;
}

/** Debian puts each major version under /usr/lib/postgresql/<n>/bin; PG_BIN overrides. */
function findBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) {
    throw new Error('PostgreSQL binaries are missing (no /usr/lib/postgresql/*/bin/initdb): run "bash scripts/ensure-test-deps.sh" (apt-get install postgresql) or set PG_BIN');
  }
  return join(root, versions[0]!, 'bin');
}

const execFileAsync = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A throwaway PostgreSQL cluster on a free loopback port in a temp dir. PostgreSQL refuses to run
 * as root, so as root the cluster belongs to the `postgres` system user and runs through runuser.
 */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = findBin();
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) =>
    asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { stdio: 'pipe' }) : execFileSync(join(bin, tool), args, { stdio: 'pipe' });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    await chown(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  const startArgs = ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'];
  run('pg_ctl', startArgs);
  // Not execFileSync: a test keeps load running against the server while the cluster restarts.
  const runAsync = async (tool: string, args: string[]) => {
    await (asRoot ? execFileAsync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : execFileAsync(join(bin, tool), args));
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stopFast() {
      await runAsync('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async start() {
      await runAsync('pg_ctl', startArgs);
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } catch (error) {
        // Already stopped (a test stopped it and failed before starting it again): only delete it.
        if (!/Is server running\?/.test(String((error as { stderr?: unknown }).stderr))) throw error;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
