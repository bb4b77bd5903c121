/** `driftline runs …`: experiment runs. */
import type { Command } from 'commander';
import { compareRuns, getRun, listRuns } from '../../runs/runs.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';

function show(value: unknown): string {
  if (value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(4);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Registers the `runs` command group. */
export function registerRunsCommands(program: Command, io: CliIo): void {
  const runs = program
    .command('runs')
    .description('experiment runs: parameters, data, code, metrics, artifacts');

  runs
    .command('ls')
    .description('list runs, newest first (a summary of each; "runs show" has the whole record)')
    .action(async (_options, command: Command) => {
      const ctx = commandContext(io, command);
      const all = await listRuns(ctx.store());
      printResult(io, ctx.output, { runs: all }, (r) =>
        r.runs.length === 0
          ? 'no runs yet (start one with "driftline train")'
          : table(
              ['run', 'status', 'dataset', 'algorithm', 'metric', 'value', 'model'],
              r.runs.map((run) => [
                run.runId,
                run.status,
                `${run.dataset.name}@${run.dataset.version.slice(0, 12)}`,
                run.algorithm,
                run.promotionMetric,
                show(run.primary?.value),
                run.modelVersion === undefined ? '' : `v${run.modelVersion}`,
              ]),
            ),
      );
    });

  runs
    .command('show')
    .description('show one run: parameters, dataset version, code version, metrics, artifacts')
    .argument('<id>', 'a run id or a unique prefix')
    .action(async (id: string, _options, command: Command) => {
      const ctx = commandContext(io, command);
      const run = await getRun(ctx.store(), id);
      printResult(io, ctx.output, run, (r) => JSON.stringify(r, null, 2));
    });

  runs
    .command('compare')
    .description('parameters and metrics of two runs side by side, with deltas')
    .argument('<a>', 'a run id or prefix')
    .argument('<b>', 'another run id or prefix')
    .action(async (a: string, b: string, _options, command: Command) => {
      const ctx = commandContext(io, command);
      const [ra, rb] = await Promise.all([getRun(ctx.store(), a), getRun(ctx.store(), b)]);
      const compared = compareRuns(ra, rb);
      printResult(io, ctx.output, { a: ra.runId, b: rb.runId, ...compared }, (c) => {
        const section = (title: string, rows: typeof c.params, onlyDifferent: boolean) =>
          table(
            [title, c.a, c.b, 'delta'],
            rows
              .filter((v) => !onlyDifferent || JSON.stringify(v.a) !== JSON.stringify(v.b))
              .map((v) => [
                v.name,
                show(v.a),
                show(v.b),
                v.delta === undefined ? '' : `${v.delta >= 0 ? '+' : ''}${show(v.delta)}`,
              ]),
          );
        return [
          section('dataset', c.dataset, false),
          '',
          section('parameter (differing)', c.params, true),
          '',
          section('metric', c.metrics, false),
        ].join('\n');
      });
    });
}
