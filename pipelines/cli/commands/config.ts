/** `driftline config validate` and `driftline config schema`. */
import type { Command } from 'commander';
import { configJsonSchema } from '../../config/json-schema.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult } from '../output.ts';

/** Registers the `config` command group. */
export function registerConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('check the config file, or print its JSON Schema');

  config
    .command('validate')
    .description('validate driftline.config.json (exit 0 when valid, 2 with every offending field when not)')
    .action(async (_options, command: Command) => {
      const ctx = commandContext(io, command);
      const parsed = await ctx.config();
      printResult(
        io,
        ctx.output,
        {
          valid: true,
          file: ctx.configPath,
          project: parsed.project.name,
          task: parsed.task,
          target: parsed.target,
          features: parsed.features.length,
          algorithm: parsed.training.algorithm,
          promotionMetric: parsed.promotion.metric,
        },
        (r) =>
          `${r.file} is valid: project "${r.project}", ${r.task} on "${r.target}", ${r.features} features, ` +
          `${r.algorithm} trainer, promotion by ${r.promotionMetric}`,
      );
    });

  config
    .command('schema')
    .description('print the JSON Schema of driftline.config.json (for editors)')
    .action((_options, command: Command) => {
      const ctx = commandContext(io, command);
      // The schema is JSON either way.
      printResult(io, { ...ctx.output, json: true }, configJsonSchema(), () => '');
    });
}
