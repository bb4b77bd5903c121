/**
 * `driftline demo` (what `npm start` runs): the lifecycle on real data, in a workspace folder.
 * It runs the steps that exist today, for real: the demo dataset is prepared from vega-datasets and
 * `init` infers its schema into the workspace's own config.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEMO_TARGET, writeFlightsCsv } from '../../demo/flights.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult } from '../output.ts';
import { initConfig, renderSchema } from './init.ts';

/** Registers `driftline demo`. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run the lifecycle on the bundled real dataset (US flights, Jan–Mar 2001) in a workspace')
    .option('--dir <dir>', 'the demo workspace (default: $DRIFTLINE_HOME/demo)')
    .action(async (options: { dir?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const dir = options.dir === undefined ? join(ctx.home, 'demo') : resolve(io.cwd, options.dir);
      await mkdir(dir, { recursive: true });
      const data = join(dir, 'flights.csv');
      const configPath = join(dir, 'driftline.config.json');
      const rows = await writeFlightsCsv(data);
      // The demo owns its workspace: re-running it starts from a fresh config.
      const schema = await initConfig(configPath, {
        data,
        target: DEMO_TARGET,
        name: 'flights-demo',
        force: true,
      });
      printResult(
        io,
        ctx.output,
        { workspace: dir, data, rows, config: configPath, task: schema.task, columns: schema.columns },
        () =>
          [
            `Driftline demo — workspace ${dir}`,
            '',
            `1. data: ${rows} US domestic flights (Jan–Mar 2001, vega-datasets) → ${data}`,
            `2. init: inferred the schema (target "${DEMO_TARGET}": arrived more than 15 min late)`,
            renderSchema(schema, configPath)
              .split('\n')
              .map((l) => (l === '' ? l : `   ${l}`))
              .join('\n'),
          ].join('\n'),
      );
    });
}
