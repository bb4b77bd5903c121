/** `driftline data …`: versioned datasets. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  listDatasetNames,
  listTags,
  listVersions,
  pullDataset,
  pushDataset,
  readManifest,
  resolveVersion,
  setTag,
} from '../../datasets/datasets.ts';
import { diffManifests } from '../../datasets/diff.ts';
import type { DatasetManifest } from '../../datasets/manifest.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';

function short(version: string): string {
  return version.slice(0, 12);
}

function fmt(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined || Number.isNaN(value)
    ? '-'
    : Number(value.toFixed(digits)).toString();
}

function renderManifest(m: DatasetManifest, tags: readonly string[]): string {
  const lines = [
    `dataset ${m.name}  version ${m.version}${tags.length > 0 ? `  (${tags.join(', ')})` : ''}`,
    `${m.rows} rows${m.droppedRows > 0 ? ` (+${m.droppedRows} without a target)` : ''}, ${m.format}, ${m.bytes} bytes, from ${m.sourceFile} at ${m.createdAt}`,
    `parent ${m.parent ?? '(none)'}; schema ${short(m.schemaHash)}`,
    '',
    table(
      ['column', 'role', 'type', 'missing', 'min / top', 'mean / distinct', 'max'],
      m.columns.map((c) => {
        const s = m.stats[c.name];
        if (s === undefined) return [c.name, c.role, c.type];
        if (s.type === 'numeric')
          return [c.name, c.role, c.type, s.missing, fmt(s.min), fmt(s.mean), fmt(s.max)];
        const top = Object.entries(s.top)[0];
        return [
          c.name,
          c.role,
          c.type,
          s.missing,
          top === undefined ? '-' : `${top[0]} (${top[1]})`,
          `${s.distinct}${s.distinctCapped ? '+' : ''}`,
          '',
        ];
      }),
    ),
  ];
  return lines.join('\n');
}

/** Registers the `data` command group. */
export function registerDataCommands(program: Command, io: CliIo): void {
  const data = program
    .command('data')
    .description('versioned datasets: content-addressed, immutable, with manifests');
  const nameOption = ['--name <name>', 'the dataset (default: the project name)'] as const;

  data
    .command('push')
    .description('validate every row, then store the file as a version (its sha256) and move "latest" to it')
    .argument('<file>', 'the data file (.csv, .jsonl or .parquet)')
    .option(...nameOption)
    .option('--tag <tag>', 'also set this tag on the version')
    .action(async (file: string, options: { name?: string; tag?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const config = await ctx.config();
      const result = await pushDataset(ctx.store(), config, resolve(io.cwd, file), options);
      printResult(
        io,
        ctx.output,
        {
          name: result.name,
          version: result.version,
          status: result.status,
          rows: result.manifest.rows,
          parent: result.manifest.parent,
          tags: result.tags,
        },
        (r) =>
          r.status === 'created'
            ? `pushed ${r.name}@${r.version} (${r.rows} rows; parent ${r.parent === null ? 'none' : short(r.parent)})${r.tags.length > 0 ? `, tagged ${r.tags.join(', ')}` : ''}`
            : `unchanged: these bytes are already ${r.name}@${r.version}${r.tags.length > 0 ? `; tagged ${r.tags.join(', ')}` : ''}`,
      );
    });

  data
    .command('ls')
    .description('list the versions of a dataset (newest first), or every dataset with --all')
    .option(...nameOption)
    .option('--all', 'list every dataset in the store')
    .action(async (options: { name?: string; all?: boolean }, command: Command) => {
      const ctx = commandContext(io, command);
      const store = ctx.store();
      const names =
        options.all === true
          ? await listDatasetNames(store)
          : [options.name ?? (await ctx.config()).project.name];
      const rows = [];
      for (const name of names) {
        const [versions, tags] = await Promise.all([listVersions(store, name), listTags(store, name)]);
        for (const m of versions) {
          rows.push({
            name,
            version: m.version,
            rows: m.rows,
            bytes: m.bytes,
            createdAt: m.createdAt,
            source: m.sourceFile,
            tags: Object.entries(tags)
              .filter(([, v]) => v === m.version)
              .map(([t]) => t),
          });
        }
      }
      printResult(io, ctx.output, { versions: rows }, (r) =>
        r.versions.length === 0
          ? 'no dataset versions yet (push one with "driftline data push FILE")'
          : table(
              ['dataset', 'version', 'rows', 'created', 'source', 'tags'],
              r.versions.map((v) => [
                v.name,
                short(v.version),
                v.rows,
                v.createdAt,
                v.source,
                v.tags.join(','),
              ]),
            ),
      );
    });

  data
    .command('show')
    .description("show a version's manifest: rows, schema, per-column statistics, lineage")
    .argument('<ref>', 'a tag, a version id, or a unique prefix of one')
    .option(...nameOption)
    .action(async (ref: string, options: { name?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const store = ctx.store();
      const name = options.name ?? (await ctx.config()).project.name;
      const manifest = await readManifest(store, name, await resolveVersion(store, name, ref));
      const tags = Object.entries(await listTags(store, name))
        .filter(([, v]) => v === manifest.version)
        .map(([t]) => t);
      printResult(io, ctx.output, { ...manifest, tags }, () => renderManifest(manifest, tags));
    });

  data
    .command('diff')
    .description('compare two versions: schema changes, row counts, per-column statistics and PSI')
    .argument('<a>', 'the reference version (tag, id or prefix)')
    .argument('<b>', 'the version to compare with it')
    .option(...nameOption)
    .action(async (a: string, b: string, options: { name?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const store = ctx.store();
      const name = options.name ?? (await ctx.config()).project.name;
      const [ma, mb] = await Promise.all([
        resolveVersion(store, name, a).then((v) => readManifest(store, name, v)),
        resolveVersion(store, name, b).then((v) => readManifest(store, name, v)),
      ]);
      const diff = diffManifests(ma, mb);
      printResult(io, ctx.output, diff, (d) =>
        [
          `${name}: ${short(d.a)} → ${short(d.b)}; rows ${d.rows[0]} → ${d.rows[1]} (${d.rows[1] - d.rows[0] >= 0 ? '+' : ''}${d.rows[1] - d.rows[0]})`,
          d.schemaChanged
            ? `schema changed: ${[
                ...d.added.map((c) => `+${c}`),
                ...d.removed.map((c) => `-${c}`),
                ...d.retyped.map((c) => `${c.name} ${c.from} → ${c.to}`),
              ].join(', ')}`
            : 'schema unchanged',
          '',
          table(
            ['column', 'type', 'missing A', 'missing B', 'mean/distinct A', 'mean/distinct B', 'PSI', ''],
            d.columns.map((c) => [
              c.name,
              c.type,
              fmt(c.missingRate[0]),
              fmt(c.missingRate[1]),
              fmt(c.center[0]),
              fmt(c.center[1]),
              fmt(c.psi),
              c.psi !== null && c.psi >= 0.2 ? 'shifted' : c.psi !== null && c.psi >= 0.1 ? 'moderate' : '',
            ]),
          ),
        ].join('\n'),
      );
    });

  data
    .command('pull')
    .description('write a version to a file (its bytes are verified against the version id)')
    .argument('<ref>', 'a tag, a version id, or a unique prefix of one')
    .argument('<file>', 'where to write it')
    .option(...nameOption)
    .option('--force', 'replace an existing file')
    .action(
      async (ref: string, file: string, options: { name?: string; force?: boolean }, command: Command) => {
        const ctx = commandContext(io, command);
        const store = ctx.store();
        const name = options.name ?? (await ctx.config()).project.name;
        const manifest = await readManifest(store, name, await resolveVersion(store, name, ref));
        const target = resolve(io.cwd, file);
        await pullDataset(store, manifest, target, options.force === true);
        printResult(
          io,
          ctx.output,
          { name, version: manifest.version, file: target, bytes: manifest.bytes },
          (r) => `wrote ${r.name}@${short(r.version)} to ${r.file} (${r.bytes} bytes, verified)`,
        );
      },
    );

  data
    .command('tag')
    .description('set a tag on a version (creating or moving it)')
    .argument('<ref>', 'a tag, a version id, or a unique prefix of one')
    .argument('<tag>', 'the tag to set')
    .option(...nameOption)
    .action(async (ref: string, tag: string, options: { name?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const store = ctx.store();
      const name = options.name ?? (await ctx.config()).project.name;
      const version = await resolveVersion(store, name, ref);
      await setTag(store, name, tag, version);
      printResult(io, ctx.output, { name, tag, version }, (r) => `${r.name}: ${r.tag} → ${r.version}`);
    });
}
