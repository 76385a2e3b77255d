#!/usr/bin/env node
// `npm start`: the update server on its embedded defaults (PGlite + files in ./.edgeloop-data,
// seeded with Silero VAD v5) and the demo page on Vite, both on loopback. Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const serverPort = process.env.PORT ?? '8787';
const demoPort = process.env.DEMO_PORT ?? '5173';
const serverUrl = `http://127.0.0.1:${serverPort}/`;

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
const server = start('server', ['--import', 'tsx', '--conditions=@edgeloop/source', 'packages/update-server/src/cli.ts', 'serve', '--port', serverPort]);

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
  });
  demo.stdout.on('data', (chunk) => {
    if (chunk.includes('Local:')) {
      console.log(`\n  edgeloop demo:   http://127.0.0.1:${demoPort}/\n  update server:   ${serverUrl}\n  signing key:     ${key}\n`);
    }
  });
});
