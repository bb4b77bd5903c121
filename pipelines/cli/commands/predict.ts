/** `driftline predict`: score a data file with a model; JSON Lines out, one prediction per row. */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { readTable } from '../../data/table.ts';
import { InputError, UsageError } from '../../errors.ts';
import { OnnxModel } from '../../model/onnx-model.ts';
import { batchSize } from '../../model/predictions.ts';
import { predictionTexts } from '../../serving/predict-body.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult } from '../output.ts';
import { FIT_FILES } from './fit.ts';

/** Reads model bytes from a `.onnx` file or a folder holding `model.onnx`. */
export async function readModelFile(path: string): Promise<{ file: string; bytes: Uint8Array }> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, FIT_FILES.model);
    return { file, bytes: new Uint8Array(await readFile(file)) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no model at ${file}`, {
        hint: 'pass --model with a model.onnx file or the folder "driftline fit" wrote',
      });
    }
    throw error;
  }
}

/** Predictions written out at a time. */
const PREDICTIONS_PER_WRITE = 1024;

/** Registers `driftline predict`. */
export function registerPredictCommand(program: Command, io: CliIo): void {
  program
    .command('predict')
    .description('score a data file; writes one JSON prediction per row (JSON Lines)')
    .argument('<file>', 'rows to score (.csv, .jsonl or .parquet); extra columns are ignored')
    .option('--model <path>', 'a model.onnx file, or a folder written by "driftline fit"')
    .option('--out <file>', 'write the predictions to this file instead of stdout')
    .action(async (file: string, options: { model?: string; out?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      if (options.model === undefined) {
        throw new UsageError('no model given', {
          hint: 'pass --model PATH (a model.onnx file or a "driftline fit" folder)',
        });
      }
      const { bytes } = await readModelFile(resolve(io.cwd, options.model));
      // A whole file is one big batch: onnxruntime spreads its rows over every core.
      const model = await OnnxModel.load(bytes, { intraOpThreads: availableParallelism() });
      try {
        // The model carries its own schema; a scored file may leave any feature missing.
        const schema = {
          features: model.features.map((f) => ({ ...f, nullable: true })),
          task: model.task,
          target: '',
        };
        const data = await readTable(resolve(io.cwd, file), schema, 'ignore');
        const scored = await model.runColumns(data.features);
        const n = batchSize(scored);
        const out = options.out === undefined ? undefined : createWriteStream(resolve(io.cwd, options.out));
        // The API's writer: the same JSON, numbers as float32 values (see predict-body.ts).
        for (let first = 0; first < n; first += PREDICTIONS_PER_WRITE) {
          const ids = Array.from({ length: Math.min(PREDICTIONS_PER_WRITE, n - first) }, () => randomUUID());
          const chunk = `${predictionTexts(scored, model.classes, ids, first).join('\n')}\n`;
          if (out === undefined) io.stdout(chunk);
          else if (!out.write(chunk)) await once(out, 'drain');
        }
        if (out !== undefined) {
          out.end();
          await finished(out);
          printResult(
            io,
            ctx.output,
            { rows: n, out: resolve(io.cwd, options.out ?? ''), model: model.sha256 },
            (r) => `scored ${r.rows} rows → ${r.out}`,
          );
        }
      } finally {
        await model.release();
      }
    });
}
