/** `driftline train`: a recorded training run on a dataset version, registered in the model registry. */
import type { Command } from 'commander';
import { gitVersion } from '../../local/git.ts';
import { trainRun } from '../../train/run.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult } from '../output.ts';
import { renderMetrics } from './fit.ts';

/** Registers `driftline train`. */
export function registerTrainCommand(program: Command, io: CliIo): void {
  program
    .command('train')
    .description('train on a dataset version, record the run and register the model (pending approval)')
    .option('--data <ref>', 'the dataset version: a tag, a version id or a prefix', 'latest')
    .option('--name <name>', 'the dataset (default: the project name)')
    .option(
      '--set <key=value...>',
      'override a config value for this run, e.g. training.params.maxDepth=4',
      [],
    )
    .action(async (options: { data: string; name?: string; set: string[] }, command: Command) => {
      const ctx = commandContext(io, command);
      const config = await ctx.config(options.set);
      const { run, model } = await trainRun(ctx.store(), ctx.registry(), config, {
        dataRef: options.data,
        ...(options.name === undefined ? {} : { datasetName: options.name }),
        code: await gitVersion(io.cwd),
      });
      printResult(io, ctx.output, { run, model }, () =>
        [
          `run ${run.runId} on ${run.dataset.name}@${run.dataset.version.slice(0, 12)} (${run.dataset.rows} rows)`,
          run.metrics === undefined ? '' : renderMetrics(run.metrics),
          '',
          `registered model version ${model.version} (${model.status}); serve it with "driftline models promote ${model.version}"`,
        ].join('\n'),
      );
    });
}
