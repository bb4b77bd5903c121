#!/usr/bin/env node
/** The `driftline` command line entry point. */
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

// V8's compile cache keeps the compiled, type-stripped sources between runs: a command starts ~40 %
// faster. Kept in the user's own cache folder (a shared temp folder would let another local user
// plant code in it); NODE_COMPILE_CACHE chooses another, NODE_DISABLE_COMPILE_CACHE=1 turns it off.
// Without a usable folder the command simply runs uncached.
enableCompileCache(
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'driftline', 'compile-cache'),
);
const { runCli } = await import('../pipelines/cli/program.ts');

// `driftline predict … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await runCli(process.argv.slice(2));
