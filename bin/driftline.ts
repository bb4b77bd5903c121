#!/usr/bin/env node
/** The `driftline` command line entry point. */
import { runCli } from '../pipelines/cli/program.ts';

process.exitCode = await runCli(process.argv.slice(2));
