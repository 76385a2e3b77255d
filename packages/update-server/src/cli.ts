#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { CliError, EXIT } from './cli/client.js';
import { runCli } from './cli/run.js';

// PGlite is PostgreSQL compiled to WASM. V8 compiles it with its baseline compiler (Liftoff),
// then recompiles the functions PostgreSQL's start-up runs most with TurboFan: ~90 MiB and ~2 s
// of CPU at start for no measurable gain in the server's queries. This process is the server's
// own, so it keeps Liftoff's code (before any WASM is compiled); `startServer` embedded in
// another process leaves V8's flags alone. Measurements: docs/server.md, "Start-up".
setFlagsFromString('--liftoff-only');

runCli(process.argv.slice(2), { out: (line) => console.log(line), env: process.env }).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(error instanceof CliError ? error.exitCode : EXIT.failed);
  },
);
