/** `driftline models …`: the model registry and the champion. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { ModelVersion } from '../../registry/registry.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';

function versionNumber(text: string): number {
  const v = Number(text.replace(/^v/, ''));
  if (!Number.isInteger(v) || v < 1)
    throw new UsageError(`"${text}" is not a model version`, {
      hint: 'give a version number such as 3 (see "driftline models ls")',
    });
  return v;
}

function renderVersion(m: ModelVersion, champion: number | undefined): string {
  return [
    `model version ${m.version}${m.version === champion ? ' (champion)' : ''}: ${m.status} — ${m.statusReason}`,
    `run ${m.runId}; dataset ${m.datasetVersion}`,
    `model ${m.modelKey} sha256 ${m.modelSha256}`,
    `${m.metrics.primary.name} ${m.metrics.primary.value.toFixed(4)}; ${Object.entries(m.metrics.holdout)
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(', ')}`,
    `created ${m.createdAt}, updated ${m.updatedAt}`,
  ].join('\n');
}

/** Registers the `models` command group. */
export function registerModelsCommands(program: Command, io: CliIo): void {
  const models = program
    .command('models')
    .description('the model registry: versions, approval, the champion');

  models
    .command('ls')
    .description('list model versions, newest first')
    .action(async (_options, command: Command) => {
      const ctx = commandContext(io, command);
      const registry = ctx.registry();
      const [versions, champion] = await Promise.all([registry.list(), registry.champion()]);
      printResult(io, ctx.output, { champion: champion?.version ?? null, versions }, (r) =>
        r.versions.length === 0
          ? 'no model versions yet (train one with "driftline train")'
          : table(
              ['version', 'status', 'metric', 'value', 'run', 'dataset', ''],
              r.versions.map((m) => [
                m.version,
                m.status,
                m.metrics.primary.name,
                m.metrics.primary.value.toFixed(4),
                m.runId,
                m.datasetVersion.slice(0, 12),
                m.version === r.champion ? 'champion' : '',
              ]),
            ),
      );
    });

  models
    .command('show')
    .description('show a model version and its lineage (run, dataset version, model hash)')
    .argument('<version>', 'the version number')
    .action(async (version: string, _options, command: Command) => {
      const ctx = commandContext(io, command);
      const registry = ctx.registry();
      const [m, champion] = await Promise.all([registry.get(versionNumber(version)), registry.champion()]);
      printResult(io, ctx.output, { ...m, champion: m.version === champion?.version }, () =>
        renderVersion(m, champion?.version),
      );
    });

  models
    .command('promote')
    .description('approve a version (if pending) and make it the champion')
    .argument('<version>', 'the version number')
    .option('--reason <text>', 'why', 'promoted from the CLI')
    .action(async (version: string, options: { reason: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const champion = await ctx.registry().promote(versionNumber(version), options.reason);
      printResult(
        io,
        ctx.output,
        champion,
        (c) =>
          `model version ${c.version} is the champion${c.previous[0] === undefined ? '' : ` (was ${c.previous[0].version})`}`,
      );
    });

  models
    .command('rollback')
    .description('make the previous champion the champion again')
    .option('--reason <text>', 'why', 'rolled back from the CLI')
    .action(async (options: { reason: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const champion = await ctx.registry().rollback(options.reason);
      printResult(
        io,
        ctx.output,
        champion,
        (c) => `rolled back: model version ${c.version} is the champion again`,
      );
    });
}
