import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The `edgeloop` CLI from source, as `npm run edgeloop --` runs it. */
const CLI = ['--import', 'tsx', '--conditions=@edgeloop/source', 'packages/update-server/src/cli.ts'];

export interface ServerProcess {
  child: ChildProcess;
  /** Base URL ending in `/`. */
  url: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
}

/**
 * Runs `edgeloop serve --port 0 …` in its own process and resolves once it listens. Rejects (with
 * its output) if it exits first or takes longer than `timeoutMs`.
 */
export function spawnServer(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    }),
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => (output += text));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgeloop serve did not listen within ${options.timeoutMs ?? 60_000} ms:\n${output}`));
    }, options.timeoutMs ?? 60_000);
    const onData = () => {
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ child, url, output: () => output, exited, alive: () => running });
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`edgeloop serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/** Runs one `edgeloop` command to completion and returns its output; rejects on a non-zero exit. */
export function runCli(args: string[], options: { env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => (output += text));
    }
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`edgeloop ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

/** The admin token `edgeloop token bootstrap` prints. */
export async function bootstrapAdmin(target: string[]): Promise<string> {
  const output = await runCli(['token', 'bootstrap', '--app', 'demo', ...target]);
  const token = /token \(shown once, store it now\): (\S+)/.exec(output)?.[1];
  if (!token) throw new Error(`no token in:\n${output}`);
  return token;
}
