/**
 * Versioned datasets (the DVC idea, on the storage port): a version is the sha256 of the stored bytes,
 * immutable, with a manifest; tags (`latest` and user tags) are refs moved by compare-and-swap.
 *
 * A push validates every row against the config and publishes nothing for a bad file; the bytes are
 * hashed before they are stored and re-checked while they are stored, so the key always names the
 * bytes behind it; pushing the same bytes again finds the version and writes nothing.
 *
 * The work of a push overlaps: a large file is hashed on a worker thread while it is validated (a
 * CSV file in two parts at once, one on this thread and one on a second worker; see
 * `validateWithStats`), and once the hash names the version the bytes go to the store while
 * validation goes on. A store that can copy a file itself (the filesystem
 * store: a kernel copy) makes a private draft, the worker hashes the draft, and the draft is published
 * only once that hash equals the version id and every row has passed. Otherwise (S3) the bytes are
 * streamed, hashed again on the worker on the way, and the store completes the object only after the
 * last chunk, which is held back until every row has passed and the second hash matches the first.
 * A bad file thus leaves nothing behind but a discarded draft or upload.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { DriftlineConfig } from '../config/schema.ts';
import { dataFormatOf } from '../data/records.ts';
import { type TableSchema, tableSchemaOf } from '../data/table.ts';
import { ConflictError, InputError, IntegrityError, NotFoundError, UsageError } from '../errors.ts';
import { featureSchemaHash } from '../onnx/metadata.ts';
import { jsonBytes, readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { validateWithStats, WORKER_MIN_BYTES } from './column-stats.ts';
import { type RunningHash, Sha256Worker, sha256OfFile } from './file-hash.ts';
import { datasetKeys, LATEST, NAME_PATTERN, VERSION_PATTERN } from './layout.ts';
import type { DatasetManifest, ManifestColumn } from './manifest.ts';

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
  return sha256OfFile(file);
}

/** Bytes read from the file per chunk handed to the store. */
const STORE_CHUNK_BYTES = 4 << 20;

/**
 * The file's bytes for the store, hashed again on the way; the last chunk is held back until
 * `validated` has resolved and the hash is known, and the stream fails instead of ending if the
 * file changed since it was hashed or if validation failed — so a store never completes an object
 * whose bytes differ from its key, or that belongs to a refused file.
 */
async function* gatedChunks(
  file: string,
  sha256: string,
  hash: RunningHash,
  validated: Promise<unknown>,
): AsyncGenerator<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    let held: Uint8Array | undefined;
    for (;;) {
      // A fresh buffer per chunk: the store may keep a chunk after asking for the next.
      const chunk = Buffer.allocUnsafeSlow(STORE_CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, STORE_CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      const bytes = chunk.subarray(0, bytesRead);
      await hash.update(bytes);
      if (held !== undefined) yield held;
      held = bytes;
    }
    await validated;
    if ((await hash.digest()) !== sha256) {
      throw new IntegrityError(`${file} changed while it was being pushed`, {
        hint: 'push it again once it is complete',
      });
    }
    if (held !== undefined) yield held;
  } finally {
    await handle.close();
  }
}

/**
 * The check of a store's draft copy of `file` (see ObjectStore.putFileIfAbsent): the copy must hash
 * to the version id — so the key names the bytes stored, even if the file changed after it was
 * hashed — and every row must have passed.
 */
async function checkDraft(
  draft: string,
  file: string,
  sha256: string,
  hasher: Sha256Worker,
  validated: Promise<unknown>,
): Promise<void> {
  if ((await hasher.hashFile(draft)) !== sha256) {
    throw new IntegrityError(`${file} changed while it was being pushed`, {
      hint: 'push it again once it is complete',
    });
  }
  await validated;
}

/**
 * Resolves with what `work` resolves to, but fails as soon as `guard` fails (and, when `work` fails,
 * with `guard`'s error if it has one): validation errors are what a user needs to see.
 */
function unlessFailed<T>(work: Promise<T>, guard: Promise<unknown>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    guard.catch(reject);
    work.then(resolve, (error: unknown) => guard.then(() => reject(error), reject));
  });
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
  const size = (await stat(file).catch(() => undefined))?.size ?? 0;
  const hasher = Sha256Worker.start(size >= WORKER_MIN_BYTES);
  try {
    // Validation reports a missing or unreadable file itself, with the right message.
    const validation = validateWithStats(file, schema, { bytes: size });
    validation.catch(() => undefined);
    const sha256 = await unlessFailed(hasher.hashFile(file), validation);
    const manifestKey = datasetKeys.manifest(name, sha256);
    const tags = options.tag === undefined ? [] : [options.tag];

    const existing = await readJson<DatasetManifest>(store, manifestKey);
    if (existing !== undefined) {
      await validation;
      // Repairs the index if the push that stored this version died before indexing it; else no write.
      await indexVersion(store, existing.value);
      for (const tag of tags) await setTag(store, name, tag, sha256);
      return { name, version: sha256, status: 'unchanged', manifest: existing.value, tags };
    }

    const parent = (await readJson<DatasetRef>(store, datasetKeys.ref(name, LATEST)))?.value.version ?? null;
    const format = dataFormatOf(file);
    const dataKey = datasetKeys.data(name, sha256, format);
    // The bytes go to the store while validation goes on; the store completes the object only once
    // every row has passed (see gatedChunks). Data before manifest: a version is listed (by its
    // manifest) only once its bytes are complete.
    const stored =
      store.putFileIfAbsent === undefined
        ? store.putIfAbsent(dataKey, gatedChunks(file, sha256, await hasher.begin(), validation))
        : store.putFileIfAbsent(dataKey, file, (draft) =>
            checkDraft(draft, file, sha256, hasher, validation),
          );
    const [validated, put] = await Promise.allSettled([validation, stored]);
    if (validated.status === 'rejected') throw validated.reason;
    if (put.status === 'rejected') throw put.reason;
    const { summary, stats } = validated.value;
    // The size of the object stored (the bytes the version id names), not of the file now.
    const storedBytes = (await store.head(dataKey))?.size ?? (await stat(file)).size;
    const manifest: DatasetManifest = {
      manifestVersion: 1,
      name,
      version: sha256,
      format: summary.format,
      dataKey,
      bytes: storedBytes,
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
    const written = await store.putIfAbsent(manifestKey, jsonBytes(manifest));
    const kept =
      written.status === 'created'
        ? manifest
        : ((await readJson<DatasetManifest>(store, manifestKey))?.value ?? manifest);
    await indexVersion(store, kept);
    await setTag(store, name, LATEST, sha256);
    for (const tag of tags) await setTag(store, name, tag, sha256);
    return { name, version: sha256, status: 'created', manifest: kept, tags };
  } finally {
    hasher.stop();
  }
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

/** What `data ls` shows of a version: the manifest without its statistics. */
export interface VersionSummary {
  readonly version: string;
  readonly rows: number;
  readonly bytes: number;
  readonly format: DatasetManifest['format'];
  readonly sourceFile: string;
  readonly createdAt: string;
  readonly parent: string | null;
}

/** `datasets/<name>/index.json`: summaries by version id. */
interface DatasetIndex {
  readonly versions: Readonly<Record<string, VersionSummary>>;
}

function summaryOf(m: DatasetManifest): VersionSummary {
  return {
    version: m.version,
    rows: m.rows,
    bytes: m.bytes,
    format: m.format,
    sourceFile: m.sourceFile,
    createdAt: m.createdAt,
    parent: m.parent,
  };
}

/**
 * Adds a version to the dataset's index (compare-and-swap). The index only speeds listing up: the
 * manifests stay the truth, and {@link listVersions} reads any manifest the index lacks (a push that
 * died between its manifest and its index entry, or an index grown past the size of a ref).
 */
export async function indexVersion(store: ObjectStore, manifest: DatasetManifest): Promise<void> {
  try {
    await updateJson<DatasetIndex>(store, datasetKeys.index(manifest.name), (current) =>
      current?.versions[manifest.version] !== undefined
        ? undefined
        : { versions: { ...current?.versions, [manifest.version]: summaryOf(manifest) } },
    );
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
  }
}

/** Every version of dataset `name`, newest first. */
export async function listVersions(store: ObjectStore, name: string): Promise<VersionSummary[]> {
  const keys: string[] = [];
  for await (const info of store.list(datasetKeys.versions(name))) {
    if (info.key.endsWith('/manifest.json')) keys.push(info.key);
  }
  const indexed = (await readJson<DatasetIndex>(store, datasetKeys.index(name)))?.value.versions ?? {};
  const summaries: VersionSummary[] = [];
  const unindexed: string[] = [];
  for (const key of keys) {
    const version = key.slice(datasetKeys.versions(name).length).split('/')[0] ?? '';
    const summary = Object.hasOwn(indexed, version) ? indexed[version] : undefined;
    if (summary !== undefined) summaries.push(summary);
    else unindexed.push(key);
  }
  // Bounded parallelism: fast on a local disk, and at most a few dozen requests in flight on S3.
  for (let i = 0; i < unindexed.length; i += 64) {
    const batch = await Promise.all(
      unindexed.slice(i, i + 64).map((k) => readJson<DatasetManifest>(store, k)),
    );
    for (const m of batch) if (m !== undefined) summaries.push(summaryOf(m.value));
  }
  return summaries.sort((a, b) =>
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
