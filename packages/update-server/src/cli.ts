#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startServer } from './server.js';

const USAGE = `usage: edgeloop serve [--data-dir DIR] [--host HOST] [--port PORT] [--no-seed]

  --data-dir  where the database and artifacts live (env EDGELOOP_DATA_DIR, default ./.edgeloop-data)
  --host      address to listen on (env HOST, default 127.0.0.1)
  --port      port to listen on (env PORT, default 8787)
  --no-seed   do not publish Silero VAD v5 into an empty data directory`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'serve') {
    console.error(command === undefined ? USAGE : `unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'no-seed': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const portText = values.port ?? process.env.PORT ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer 0–65535, got "${portText}"`);
    return 2;
  }
  const server = await startServer({
    dataDir: values['data-dir'] ?? process.env.EDGELOOP_DATA_DIR ?? '.edgeloop-data',
    host: values.host ?? process.env.HOST ?? '127.0.0.1',
    port,
    seed: !values['no-seed'],
  });
  console.log(`edgeloop update server listening on ${server.url}`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
