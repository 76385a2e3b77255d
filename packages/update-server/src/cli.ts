#!/usr/bin/env node
import { CliError, EXIT } from './cli/client.js';
import { runCli } from './cli/run.js';

runCli(process.argv.slice(2), { out: (line) => console.log(line), env: process.env }).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(error instanceof CliError ? error.exitCode : EXIT.failed);
  },
);
