/**
 * Versioned datasets (the DVC idea, on the storage port): a version is the sha256 of the stored bytes,
 * immutable, with a manifest; tags (`latest` and user tags) are refs moved by compare-and-swap.
 *
 * A push validates every row against the config first and stores nothing for a bad file; the bytes are
 * hashed before they are stored and re-checked while they are stored, so the key always names the
 * bytes behind it; pushing the same bytes again finds the version and writes nothing.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { DriftlineConfig } from '../config/schema.ts';
import { type TableSchema, tableSchemaOf, validRows } from '../data/table.ts';
import { ConflictError, IntegrityError, NotFoundError, UsageError } from '../errors.ts';
import { featureSchemaHash } from '../onnx/metadata.ts';
import { jsonBytes, readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { datasetKeys, LATEST, NAME_PATTERN, VERSION_PATTERN } from './layout.ts';
import type { DatasetManifest, ManifestColumn } from './manifest.ts';
import { type ColumnAccumulator, columnAccumulator } from './stats.ts';

/** What a ref holds. */
export interface DatasetRef {
  readonly version: string;
  readonly updatedAt: string;
}

/** The outcome of a push. */
export interface PushResult {
  readonly name: string;
  readonly version: string;
  /** `created`: new version stored; `unchanged`: these bytes were already a version (nothing written). */
  readonly status: 'created' | 'unchanged';
  readonly manifest: DatasetManifest;
  readonly tags: readonly string[];
}

/** Seed for the manifest samples: fixed, so the same bytes always give the same manifest statistics. */
const STATS_SEED = 20_011;

/** Checks a dataset or tag name (one path segment). */
export function checkName(name: string, what: 'dataset' | 'tag'): void {
  if (!NAME_PATTERN.test(name) || (what === 'tag' && VERSION_PATTERN.test(name))) {
    throw new UsageError(`invalid ${what} name ${JSON.stringify(name)}`, {
      hint: `use letters, digits, ".", "_" and "-" (at most 100, starting with a letter or digit)${what === 'tag' ? ', not a 64-digit hex id' : ''}`,
    });
  }
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The file's bytes, hashed on the way; the last chunk is held back until the hash is known, and the
 * stream fails instead of ending if the file changed since it was hashed — so a store never completes
 * an object whose bytes differ from its key.
 */
async function* verifiedChunks(file: string, sha256: string): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let held: Uint8Array | undefined;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    if (held !== undefined) yield held;
    held = chunk as Buffer;
  }
  if (hash.digest('hex') !== sha256) {
    throw new IntegrityError(`${file} changed while it was being pushed`, {
      hint: 'push it again once it is complete',
    });
  }
  if (held !== undefined) yield held;
}

/** The canonical schema hash of a table schema: features with types, the target and the task. */
export function datasetSchemaHash(schema: TableSchema): string {
  return featureSchemaHash([
    ...schema.features.map((f) => ({ name: f.name, type: f.type })),
    { name: `target:${schema.target}`, type: schema.task === 'regression' ? 'numeric' : 'categorical' },
  ]);
}

function manifestColumns(schema: TableSchema, hasTime: boolean): ManifestColumn[] {
  return [
    ...schema.features.map(
      (f): ManifestColumn => ({ name: f.name, role: 'feature', type: f.type, nullable: f.nullable }),
    ),
    { name: schema.target, role: 'target', type: schema.task === 'regression' ? 'numeric' : 'categorical' },
    ...(hasTime && schema.timeColumn !== undefined
      ? [{ name: schema.timeColumn, role: 'time' as const, type: 'datetime' as const }]
      : []),
  ];
}

/** One validation pass: every row checked, statistics accumulated, nothing kept in memory. */
async function validateWithStats(file: string, schema: TableSchema) {
  const accumulators: ColumnAccumulator[] = [
    ...schema.features.map((f, j) => columnAccumulator(f.type, STATS_SEED, j)),
    columnAccumulator(
      schema.task === 'regression' ? 'numeric' : 'categorical',
      STATS_SEED,
      schema.features.length,
    ),
  ];
  const rows = validRows(file, schema, 'required');
  let next = await rows.next();
  while (next.done !== true) {
    const row = next.value;
    row.values.forEach((v, j) => {
      accumulators[j]?.add(v);
    });
    accumulators[schema.features.length]?.add(row.label);
    next = await rows.next();
  }
  const names = [...schema.features.map((f) => f.name), schema.target];
  return {
    summary: next.value,
    stats: Object.fromEntries(names.map((n, j) => [n, (accumulators[j] as ColumnAccumulator).finish()])),
  };
}

/** Sets `tag` of dataset `name` to `version` (creating or moving it). */
export async function setTag(store: ObjectStore, name: string, tag: string, version: string): Promise<void> {
  checkName(tag, 'tag');
  await updateJson<DatasetRef>(store, datasetKeys.ref(name, tag), (current) =>
    current?.version === version ? undefined : { version, updatedAt: new Date().toISOString() },
  );
}

/**
 * Pushes `file` as a version of dataset `name` (default: the project name), moves `latest` to it and
 * sets `tag` when given.
 * @throws InputError naming the row and column of bad values (nothing is stored); UsageError for bad names
 */
export async function pushDataset(
  store: ObjectStore,
  config: DriftlineConfig,
  file: string,
  options: { name?: string; tag?: string } = {},
): Promise<PushResult> {
  const name = options.name ?? config.project.name;
  checkName(name, 'dataset');
  if (options.tag !== undefined) checkName(options.tag, 'tag');
  const schema = tableSchemaOf(config);
  // Validation first: a bad file is refused before a single byte is stored.
  const [sha256, { summary, stats }] = await Promise.all([sha256File(file), validateWithStats(file, schema)]);
  const manifestKey = datasetKeys.manifest(name, sha256);
  const tags = options.tag === undefined ? [] : [options.tag];

  const existing = await readJson<DatasetManifest>(store, manifestKey);
  if (existing !== undefined) {
    for (const tag of tags) await setTag(store, name, tag, sha256);
    return { name, version: sha256, status: 'unchanged', manifest: existing.value, tags };
  }

  const parent = (await readJson<DatasetRef>(store, datasetKeys.ref(name, LATEST)))?.value.version ?? null;
  const ext = summary.format === 'jsonl' ? 'jsonl' : summary.format;
  const dataKey = datasetKeys.data(name, sha256, ext);
  const manifest: DatasetManifest = {
    manifestVersion: 1,
    name,
    version: sha256,
    format: summary.format,
    dataKey,
    bytes: (await stat(file)).size,
    rows: summary.rows,
    droppedRows: summary.droppedRows,
    task: schema.task,
    columns: manifestColumns(schema, summary.hasTime),
    schemaHash: datasetSchemaHash(schema),
    stats,
    sourceFile: basename(file),
    createdAt: new Date().toISOString(),
    parent,
  };
  // Data before manifest: a version is listed (by its manifest) only once its bytes are complete.
  await store.putIfAbsent(dataKey, verifiedChunks(file, sha256));
  const written = await store.putIfAbsent(manifestKey, jsonBytes(manifest));
  const stored =
    written.status === 'created'
      ? manifest
      : ((await readJson<DatasetManifest>(store, manifestKey))?.value ?? manifest);
  await setTag(store, name, LATEST, sha256);
  for (const tag of tags) await setTag(store, name, tag, sha256);
  return { name, version: sha256, status: 'created', manifest: stored, tags };
}

/** Names of all datasets in the store. */
export async function listDatasetNames(store: ObjectStore): Promise<string[]> {
  const names = new Set<string>();
  for await (const info of store.list('datasets/')) {
    const name = info.key.split('/')[1];
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/** Every tag of dataset `name` and the version it points to. */
export async function listTags(store: ObjectStore, name: string): Promise<Record<string, string>> {
  const prefix = datasetKeys.refs(name);
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  keys.sort();
  // Read in parallel, then insert in key order so the result does not depend on completion order.
  const refs = await Promise.all(keys.map((key) => readJson<DatasetRef>(store, key)));
  const tags: Record<string, string> = {};
  keys.forEach((key, i) => {
    const ref = refs[i];
    if (ref !== undefined) tags[key.slice(prefix.length)] = ref.value.version;
  });
  return tags;
}

/** Every version's manifest of dataset `name`, newest first. */
export async function listVersions(store: ObjectStore, name: string): Promise<DatasetManifest[]> {
  const keys: string[] = [];
  for await (const info of store.list(datasetKeys.versions(name))) {
    if (info.key.endsWith('/manifest.json')) keys.push(info.key);
  }
  const manifests: DatasetManifest[] = [];
  // Bounded parallelism: fast on a local disk, and at most a few dozen requests in flight on S3.
  for (let i = 0; i < keys.length; i += 64) {
    const batch = await Promise.all(keys.slice(i, i + 64).map((k) => readJson<DatasetManifest>(store, k)));
    for (const m of batch) if (m !== undefined) manifests.push(m.value);
  }
  return manifests.sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.version < b.version ? -1 : 1,
  );
}

/**
 * Resolves a reference — a tag, a full version id, or an unambiguous prefix of one (at least 6 hex
 * digits) — to a version id of dataset `name`.
 * @throws NotFoundError naming the tags there are; UsageError for an ambiguous prefix
 */
export async function resolveVersion(store: ObjectStore, name: string, ref: string): Promise<string> {
  if (NAME_PATTERN.test(ref) && !VERSION_PATTERN.test(ref)) {
    const tagged = await readJson<DatasetRef>(store, datasetKeys.ref(name, ref));
    if (tagged !== undefined) return tagged.value.version;
  }
  if (/^[0-9a-f]{6,64}$/.test(ref)) {
    const matches: string[] = [];
    for await (const info of store.list(`${datasetKeys.versions(name)}${ref}`)) {
      const version = info.key.slice(datasetKeys.versions(name).length).split('/')[0] ?? '';
      if (info.key.endsWith('/manifest.json') && !matches.includes(version)) matches.push(version);
    }
    if (matches.length === 1) return matches[0] as string;
    if (matches.length > 1) {
      throw new UsageError(`"${ref}" matches ${matches.length} versions of dataset "${name}"`, {
        hint: 'give more digits of the version id',
      });
    }
  }
  const tags = Object.keys(await listTags(store, name));
  throw new NotFoundError(`dataset "${name}" has no tag or version "${ref}"`, {
    hint:
      tags.length === 0
        ? `push one with "driftline data push FILE"`
        : `tags: ${tags.join(', ')}; or give a version id (see "driftline data ls")`,
  });
}

/** The manifest of version `version` of dataset `name`. @throws NotFoundError */
export async function readManifest(
  store: ObjectStore,
  name: string,
  version: string,
): Promise<DatasetManifest> {
  const found = await readJson<DatasetManifest>(store, datasetKeys.manifest(name, version));
  if (found === undefined) throw new NotFoundError(`dataset "${name}" has no version ${version}`);
  return found.value;
}

/**
 * Streams a version's bytes to `file`, verifying them against the version id; a corrupted object is
 * refused (IntegrityError) and leaves no file behind.
 */
export async function pullDataset(
  store: ObjectStore,
  manifest: DatasetManifest,
  file: string,
  force = false,
): Promise<void> {
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (exists && !force) {
    throw new ConflictError(`${file} already exists`, {
      hint: 'pass --force to replace it, or choose another file',
    });
  }
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.partial`);
  const hash = createHash('sha256');
  const out = createWriteStream(temp);
  try {
    for await (const chunk of await store.read(manifest.dataKey)) {
      hash.update(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    const actual = hash.digest('hex');
    if (actual !== manifest.version) {
      throw new IntegrityError(
        `the stored bytes of ${manifest.name}@${manifest.version.slice(0, 12)} are corrupted: their sha256 is ${actual}`,
        {
          hint: 'restore the object from a backup (the S3 bucket keeps previous versions); nothing was written',
        },
      );
    }
    await rename(temp, file);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Reads a version's bytes into a local file for training, verifying the hash (see {@link pullDataset}).
 * @returns the manifest
 */
export async function materialise(
  store: ObjectStore,
  name: string,
  ref: string,
  dir: string,
): Promise<{ manifest: DatasetManifest; file: string }> {
  const version = await resolveVersion(store, name, ref);
  const manifest = await readManifest(store, name, version);
  const file = join(dir, `${version}.${manifest.format === 'jsonl' ? 'jsonl' : manifest.format}`);
  await pullDataset(store, manifest, file, true);
  return { manifest, file };
}
