#!/usr/bin/env node
/** The `driftline` command line entry point. */
import { enableCompileCache } from 'node:module';

// V8's compile cache (in the OS temp folder, keyed by content; NODE_DISABLE_COMPILE_CACHE=1 turns it
// off) keeps the compiled, type-stripped sources between runs: a command starts ~40 % faster.
enableCompileCache();
const { runCli } = await import('../pipelines/cli/program.ts');

// `driftline predict … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await runCli(process.argv.slice(2));
