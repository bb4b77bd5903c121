/** `driftline init`: infer a config from a CSV file. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { type InferredSchema, inferSchema } from '../../config/infer.ts';
import { parseConfig } from '../../config/load.ts';
import { TASKS, type Task } from '../../config/schema.ts';
import { UsageError } from '../../errors.ts';
import { exists } from '../../local/files.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';

interface InitOptions {
  data: string;
  target: string;
  task?: Task;
  name?: string;
  force?: boolean;
}

/** Text rendering of an inferred schema, shared with `driftline demo`. */
export function renderSchema(schema: InferredSchema, configPath: string): string {
  const lines = [
    `wrote ${configPath}`,
    `${schema.rows} rows; task ${schema.task}${schema.classes.length > 0 ? ` (classes: ${schema.classes.join(', ')})` : ''}`,
    '',
    table(
      ['column', 'role', 'type', 'missing', 'distinct', 'note'],
      schema.columns.map((c) => [
        c.name,
        c.role,
        c.role === 'skipped' ? '' : c.role === 'time' ? 'datetime' : c.type,
        c.missing,
        c.distinct,
        c.note,
      ]),
    ),
  ];
  if (schema.warnings.length > 0) lines.push('', ...schema.warnings.map((w) => `warning: ${w}`));
  return lines.join('\n');
}

/**
 * Infers a config from `data` and writes it to `configPath`, refusing to overwrite unless `force`.
 * @returns the inference result
 */
export async function initConfig(
  configPath: string,
  options: { data: string; target: string; task?: Task; name?: string; force?: boolean },
): Promise<InferredSchema> {
  if (options.force !== true && (await exists(configPath))) {
    throw new UsageError(`${configPath} already exists`, {
      hint: 'Pass --force to replace it, or --config FILE to write somewhere else.',
    });
  }
  const schema = await inferSchema(options.data, options.target, options.task);
  const config =
    options.name === undefined ? schema.config : { ...schema.config, project: { name: options.name } };
  // What init writes must be a valid config (e.g. a --name that breaks the naming rule fails here).
  parseConfig(config, configPath);
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return { ...schema, config };
}

/** Registers `driftline init`. */
export function registerInitCommand(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('infer the schema from a CSV file and write driftline.config.json')
    .requiredOption('--data <file>', 'the CSV file to read (header line + rows)')
    .requiredOption('--target <column>', 'the label column')
    .addOption(new Option('--task <task>', 'the task (inferred from the target when omitted)').choices(TASKS))
    .option('--name <name>', 'the project name (default: from the file name)')
    .option('--force', 'replace an existing config file')
    .action(async (options: InitOptions, command: Command) => {
      const ctx = commandContext(io, command);
      const schema = await initConfig(ctx.configPath, { ...options, data: resolve(io.cwd, options.data) });
      printResult(
        io,
        ctx.output,
        {
          config: ctx.configPath,
          rows: schema.rows,
          task: schema.task,
          classes: schema.classes,
          columns: schema.columns,
          warnings: schema.warnings,
        },
        () => renderSchema(schema, ctx.configPath),
      );
    });
}
