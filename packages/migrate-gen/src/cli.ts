#!/usr/bin/env node
import { runCli } from './run-cli.js';

/** The package version, written in at build time. */
declare const __PUP_MIGRATE_GEN_VERSION__: string;

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  version: __PUP_MIGRATE_GEN_VERSION__,
}).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    process.stderr.write(`pup-migrate-gen: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
