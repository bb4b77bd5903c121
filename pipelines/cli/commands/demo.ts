/**
 * `driftline demo` (what `npm start` runs): the lifecycle on real data, in a workspace folder.
 * It runs the steps that exist today, for real, through the same code as the commands: the demo
 * dataset is prepared from vega-datasets, `init` infers its schema, `fit` trains and evaluates a model
 * (ONNX, scored by onnxruntime), and the model scores a few flights.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { readTable, tableSchemaOf } from '../../data/table.ts';
import { DEMO_TARGET, writeFlightsCsv } from '../../demo/flights.ts';
import { writeFileAtomic } from '../../local/files.ts';
import { OnnxModel } from '../../model/onnx-model.ts';
import { apiPrediction } from '../../model/predictions.ts';
import { fitModel } from '../../train/fit.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';
import { FIT_FILES, renderMetrics } from './fit.ts';
import { initConfig, renderSchema } from './init.ts';

/** Flights scored at the end of the demo. */
const SAMPLE_ROWS = 5;

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `   ${l}`))
    .join('\n');
}

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
      const modelDir = join(dir, 'model');

      const rows = await writeFlightsCsv(data);
      // The demo owns its workspace: re-running it starts from a fresh config and model.
      const schema = await initConfig(configPath, {
        data,
        target: DEMO_TARGET,
        name: 'flights-demo',
        force: true,
      });
      const config = await loadConfig(configPath);
      const tableData = await readTable(data, tableSchemaOf(config), 'required');
      const fit = await fitModel(config, tableData);
      await mkdir(modelDir, { recursive: true });
      await writeFileAtomic(join(modelDir, FIT_FILES.metrics), `${JSON.stringify(fit.metrics, null, 2)}\n`);
      await writeFileAtomic(join(modelDir, FIT_FILES.baseline), `${JSON.stringify(fit.baseline)}\n`);
      await writeFileAtomic(join(modelDir, FIT_FILES.model), fit.onnx);

      // Score the last flights of the file with the exported model, as `driftline predict` does.
      const model = await OnnxModel.load(fit.onnx);
      const last = Array.from({ length: SAMPLE_ROWS }, (_, i) => tableData.rows - SAMPLE_ROWS + i);
      const sample = tableData.features.map((c) =>
        c.type === 'numeric'
          ? { type: 'numeric' as const, values: Float64Array.from(last, (i) => c.values[i] as number) }
          : { type: 'categorical' as const, values: last.map((i) => c.values[i] ?? null) },
      );
      const scored = await model.runColumns(sample);
      await model.release();
      const predictions = last.map((row, k) => ({
        row,
        features: Object.fromEntries(config.features.map((f, j) => [f.name, sample[j]?.values[k] ?? null])),
        actual: tableData.target?.kind === 'classes' ? tableData.target.values[row] : undefined,
        prediction: apiPrediction(scored, model.classes, k),
      }));

      printResult(
        io,
        ctx.output,
        {
          workspace: dir,
          data,
          rows,
          config: configPath,
          task: schema.task,
          columns: schema.columns,
          model: modelDir,
          metrics: fit.metrics,
          predictions,
        },
        () =>
          [
            `Driftline demo — workspace ${dir}`,
            '',
            `1. data: ${rows} US domestic flights (Jan–Mar 2001, vega-datasets) → ${data}`,
            `2. init: inferred the schema (target "${DEMO_TARGET}": arrived more than 15 min late)`,
            indent(renderSchema(schema, configPath)),
            '',
            `3. fit: trained on the oldest flights, evaluated the exported ONNX model on the newest`,
            indent(renderMetrics(fit.metrics)),
            `   wrote ${join(modelDir, FIT_FILES.model)}, ${FIT_FILES.metrics}, ${FIT_FILES.baseline}`,
            '',
            `4. predict: the model scores the last ${SAMPLE_ROWS} flights of the file (onnxruntime-node)`,
            indent(
              table(
                ['departure hour', 'weekday', 'route', 'distance', 'P(delayed)', 'predicted', 'actual'],
                predictions.map((p) => [
                  p.features.hour,
                  p.features.weekday,
                  `${p.features.origin}→${p.features.destination}`,
                  p.features.distance,
                  'probabilities' in p.prediction ? (p.prediction.probabilities.yes ?? 0).toFixed(3) : '',
                  'label' in p.prediction ? p.prediction.label : '',
                  p.actual,
                ]),
              ),
            ),
            '',
            'Next steps of the lifecycle (versioned data, the registry, serving, monitoring) join this demo as they land.',
          ].join('\n'),
      );
    });
}
