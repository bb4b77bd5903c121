/** `driftline fit`: train one model from a file, without the registry. */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { readTable, tableSchemaOf } from '../../data/table.ts';
import { UsageError } from '../../errors.ts';
import { exists, writeFileAtomic } from '../../local/files.ts';
import { type FitMetrics, fitModel } from '../../train/fit.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';

/** The files `fit` writes into its output folder. */
export const FIT_FILES = { model: 'model.onnx', metrics: 'metrics.json', baseline: 'baseline.json' } as const;

function formatMetric(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '-' : value.toFixed(4);
}

/** Text summary of a run's metrics. */
export function renderMetrics(metrics: FitMetrics): string {
  const names = Object.keys(metrics.test) as (keyof FitMetrics['test'])[];
  return [
    `${metrics.algorithm} ${metrics.task}: ${metrics.rows.train} train / ${metrics.rows.validation} validation / ${metrics.rows.test} test rows (${metrics.split} split), ${metrics.iterations} ${metrics.algorithm === 'gbdt' ? 'rounds' : 'iterations'}, trained in ${metrics.seconds.train.toFixed(2)} s`,
    '',
    table(
      ['metric', 'test', 'validation'],
      names.map((n) => [
        n === metrics.primary.metric ? `${n} *` : n,
        formatMetric(metrics.test[n]),
        formatMetric(metrics.validation[n]),
      ]),
    ),
    '',
    '* the promotion metric',
  ].join('\n');
}

/** Registers `driftline fit`. */
export function registerFitCommand(program: Command, io: CliIo): void {
  program
    .command('fit')
    .description(
      'train one model from a data file (no registry): writes model.onnx, metrics.json, baseline.json',
    )
    .requiredOption('--data <file>', 'training data (.csv, .jsonl or .parquet)')
    .requiredOption('--out <dir>', 'the folder to write the model into')
    .option('--force', 'replace a model already in the folder')
    .action(async (options: { data: string; out: string; force?: boolean }, command: Command) => {
      const ctx = commandContext(io, command);
      const config = await ctx.config();
      const out = resolve(io.cwd, options.out);
      if (options.force !== true && (await exists(join(out, FIT_FILES.model)))) {
        throw new UsageError(`${join(out, FIT_FILES.model)} already exists`, {
          hint: 'pass --force to replace it, or choose another --out folder',
        });
      }
      const data = await readTable(resolve(io.cwd, options.data), tableSchemaOf(config), 'required');
      const result = await fitModel(config, data);
      await mkdir(out, { recursive: true });
      const sha256 = createHash('sha256').update(result.onnx).digest('hex');
      // The model is written last: a folder with model.onnx always has its metrics and baseline.
      await writeFileAtomic(
        join(out, FIT_FILES.metrics),
        `${JSON.stringify({ ...result.metrics, model: { sha256, bytes: result.onnx.length } }, null, 2)}\n`,
      );
      await writeFileAtomic(join(out, FIT_FILES.baseline), `${JSON.stringify(result.baseline)}\n`);
      await writeFileAtomic(join(out, FIT_FILES.model), result.onnx);
      printResult(
        io,
        ctx.output,
        { out, model: join(out, FIT_FILES.model), sha256, metrics: result.metrics },
        () =>
          `${renderMetrics(result.metrics)}\n\nwrote ${join(out, FIT_FILES.model)} (sha256 ${sha256.slice(0, 12)}…), ${FIT_FILES.metrics}, ${FIT_FILES.baseline}`,
      );
    });
}
