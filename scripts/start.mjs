#!/usr/bin/env node
// `npm start`: the update server on its embedded defaults (PGlite + files in ./.edgeloop-data,
// seeded with Silero VAD v5) and the demo page on Vite, both on loopback. Ctrl-C stops both.
//
// The server runs as a local telemetry demo, so the page shows its own device's telemetry within
// a minute or two: a 30 s accounting period (the device seals and sends its report 30 s after it
// starts running the model), windows released every minute instead of every hour, and a floor of
// one report (one browser is one device). The server refuses these settings on a non-loopback host,
// and the page shows a banner. The page reads the views with a read-only token kept in the data dir.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const serverPort = process.env.PORT ?? '8787';
const demoPort = process.env.DEMO_PORT ?? '5173';
const serverUrl = `http://127.0.0.1:${serverPort}/`;
const CLI = ['--import', 'tsx', '--conditions=@edgeloop/source', 'packages/update-server/src/cli.ts'];
const dataDir = resolve(root, process.env.EDGELOOP_DATA_DIR ?? '.edgeloop-data');
const DEMO_TELEMETRY = ['--telemetry-demo', '--min-reports', '1', '--telemetry-period', '30', '--telemetry-window', '60'];

/**
 * A token with scope `read` for the demo page's telemetry and gate panels: made once with
 * `edgeloop token bootstrap` (before the server starts: PGlite holds its directory exclusively)
 * and kept next to the database it belongs to.
 */
function viewToken() {
  const file = join(dataDir, 'demo-page-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const made = spawnSync(process.execPath, [...CLI, 'token', 'bootstrap', '--app', 'demo', '--scopes', 'read', '--name', 'demo page'], { cwd: root, encoding: 'utf8' });
  const token = /token \(shown once, store it now\): (\S+)/.exec(made.stdout ?? '')?.[1];
  if (made.status !== 0 || !token) {
    console.error(`could not make a read token for the demo page:\n${made.stdout ?? ''}${made.stderr ?? ''}`);
    process.exit(1);
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
const token = viewToken();

const children = [];
function start(name, args, env = {}) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      for (const line of text.split('\n').filter(Boolean)) console.log(`[${name}] ${line}`);
    });
  }
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`[${name}] exited with ${code}; stopping`);
      stop(code ?? 1);
    }
  });
  return child;
}

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// Sources run directly (tsx): no build step between a checkout and a running system.
const demoOrigins = [`http://127.0.0.1:${demoPort}`, `http://localhost:${demoPort}`].join(',');
const server = start('server', [...CLI, 'serve', '--port', serverPort, ...DEMO_TELEMETRY, '--admin-cors-origins', demoOrigins]);

// The demo pins the server's manifest-signing key, so it starts once the server has printed it.
let output = '';
server.stdout.on('data', function waitForKey(text) {
  output += text;
  const key = /public key \(pin it in clients\): (\S+)/.exec(output)?.[1];
  if (!key || !output.includes('listening on')) return;
  server.stdout.off('data', waitForKey);
  const demo = start('demo', ['node_modules/vite/bin/vite.js', 'demo', '--port', demoPort, '--strictPort'], {
    VITE_EDGELOOP_SERVER: serverUrl,
    VITE_EDGELOOP_PUBLIC_KEY: key,
    VITE_EDGELOOP_TOKEN: token,
  });
  demo.stdout.on('data', (chunk) => {
    if (chunk.includes('Local:')) {
      console.log(
        `\n  edgeloop demo:   http://127.0.0.1:${demoPort}/\n  update server:   ${serverUrl}\n  signing key:     ${key}\n` +
          '  telemetry:       demo settings: 30 s periods, released per minute from 1 report (loopback only)\n',
      );
    }
  });
});
