/**
 * The local adapter of the storage port: objects are files under a root folder (`$DRIFTLINE_HOME`),
 * the key being the relative path. Writes are crash-safe and safe between processes:
 * - a new object is written to a temp file in a staging folder inside the root (same filesystem),
 *   fsynced, then published with `link()`, which fails when the key exists — create-if-absent is
 *   atomic without a lock, and the key shows a complete object or nothing, even after a crash;
 * - a ref is replaced under a per-key lock file: compare etags, then `rename()` over the old file.
 * Internals (staging files, locks) live in `<root>/.driftline-store/`, a segment keys may not use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type BigIntStats, constants, createReadStream, type Stats } from 'node:fs';
import {
  chmod,
  copyFile,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ConflictError, InputError, NotFoundError } from '../errors.ts';
import { assertKeyPrefix, assertObjectKey, MAX_REF_BYTES, RESERVED_SEGMENT } from '../storage/object-key.ts';
import type {
  ListedObject,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutIfAbsentResult,
} from '../storage/object-store.ts';
import { errorCode, RefLock } from './ref-lock.ts';

/** Tuning of {@link FsObjectStore}; the defaults suit the CLI and tests. */
export interface FsObjectStoreOptions {
  /** Temp files older than this are leftovers of a killed writer and are removed. @default 15 minutes */
  readonly staleTempMs?: number;
  /** How long a ref write waits for another live writer before a ConflictError. @default 10 s */
  readonly lockTimeoutMs?: number;
  /** A ref lock older than this is abandoned even if its owner pid looks alive. @default 30 s */
  readonly staleLockMs?: number;
}

const SWEEP_INTERVAL_MS = 60_000;
const LIST_BATCH = 32;
/** Permissions of a stored object copied from a file (what `open(…, 'wx')` gives under the usual umask). */
const OBJECT_MODE = 0o644;
/** Sub-folders whose listing a walk reads ahead. */
const READ_AHEAD = 32;

/** One entry of a folder listing; `size` is set for a file when it was read with the listing (-1: gone). */
interface FolderEntry {
  readonly name: string;
  readonly folder: boolean;
  readonly sortKey: Buffer;
  size?: number;
}

/** A folder's entries in key order. */
interface Folder {
  readonly entries: readonly FolderEntry[];
}

/** The filesystem implementation of {@link ObjectStore}. */
export class FsObjectStore implements ObjectStore {
  readonly location: string;
  readonly #root: string;
  readonly #staging: string;
  readonly #locks: string;
  readonly #staleTempMs: number;
  readonly #lockTimeoutMs: number;
  readonly #staleLockMs: number;
  #internalDirs: Promise<void> | undefined;
  #lastSweep = Number.NEGATIVE_INFINITY;

  /** @param root the folder that holds the objects (created on the first write) */
  constructor(root: string, options: FsObjectStoreOptions = {}) {
    this.#root = resolve(root);
    this.location = this.#root;
    this.#staging = join(this.#root, RESERVED_SEGMENT, 'staging');
    this.#locks = join(this.#root, RESERVED_SEGMENT, 'locks');
    this.#staleTempMs = options.staleTempMs ?? 15 * 60_000;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.#staleLockMs = options.staleLockMs ?? 30_000;
  }

  /** The staging folder, where temp files of writes in progress live (exposed for tests and tools). */
  get stagingFolder(): string {
    return this.#staging;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#pathOf(key);
    const handle = await openObject(path);
    if (handle === undefined) return undefined;
    try {
      const info = await handle.stat({ bigint: true });
      if (!info.isFile()) return undefined;
      return { key, size: Number(info.size), etag: await etagOf(handle, info) };
    } finally {
      await handle.close();
    }
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    const path = this.#pathOf(key);
    let info: Stats | undefined;
    try {
      info = await stat(path);
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
    if (info === undefined || !info.isFile()) {
      throw new NotFoundError(`object ${key} does not exist in ${this.location}`);
    }
    // Opened on first pull, so a stream the caller never reads holds no file descriptor. Objects are
    // never deleted and refs are replaced by rename, so whatever the open finds is a whole object.
    return streamFile(path);
  }

  async readBytes(key: string): Promise<{ readonly bytes: Uint8Array; readonly etag: string } | undefined> {
    const path = this.#pathOf(key);
    const handle = await openObject(path);
    if (handle === undefined) return undefined;
    try {
      const info = await handle.stat({ bigint: true });
      if (!info.isFile()) return undefined;
      const bytes = new Uint8Array(await handle.readFile());
      // The etag comes from the same open file as the bytes, so the pair is consistent even if the
      // key is replaced meanwhile.
      const etag = bytes.byteLength <= MAX_REF_BYTES ? contentEtag(bytes) : fileEtag(info);
      return { bytes, etag };
    } finally {
      await handle.close();
    }
  }

  async putIfAbsent(key: string, body: ObjectBody): Promise<PutIfAbsentResult> {
    const path = this.#pathOf(key);
    if (await this.#objectExists(key, path)) {
      await discard(body);
      return { status: 'exists' };
    }
    await this.#prepareWrite();
    const temp = await this.#writeTemp(body);
    try {
      return await this.#publish(key, path, temp);
    } finally {
      await unlink(temp).catch(ignoreMissing);
    }
  }

  /**
   * {@link ObjectStore.putFileIfAbsent}: the draft is a kernel-side copy of `file` in the staging
   * folder (`copyFile`: a copy-on-write clone where the filesystem has them, else copy_file_range —
   * no bytes pass through this process), flushed to the disk while `check` runs.
   */
  async putFileIfAbsent(
    key: string,
    file: string,
    check: (draft: string) => Promise<void>,
  ): Promise<PutIfAbsentResult> {
    const path = this.#pathOf(key);
    if (await this.#objectExists(key, path)) return { status: 'exists' };
    await this.#prepareWrite();
    const temp = join(this.#staging, `${randomBytes(16).toString('hex')}.tmp`);
    // A draft waiting on a long check is touched now and then, so no other writer sweeps it as stale.
    const touch = setInterval(
      () => {
        const now = new Date();
        utimes(temp, now, now).catch(() => undefined);
      },
      Math.max(1000, Math.floor(this.#staleTempMs / 3)),
    );
    touch.unref();
    try {
      await copyFile(file, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      // The copy took the source's permissions (a read-only file gives a read-only draft): stored
      // objects get the store's own.
      await chmod(temp, OBJECT_MODE);
      const [checked, synced] = await Promise.allSettled([check(temp), fsyncPath(temp)]);
      if (checked.status === 'rejected') throw checked.reason;
      if (synced.status === 'rejected') throw synced.reason;
      return await this.#publish(key, path, temp);
    } finally {
      clearInterval(touch);
      await unlink(temp).catch(ignoreMissing);
    }
  }

  /** Links a complete, fsynced temp file in as `key` unless it exists (link() never replaces). */
  async #publish(key: string, path: string, temp: string): Promise<PutIfAbsentResult> {
    await this.#makeParents(key, path);
    try {
      await link(temp, path);
    } catch (error) {
      if (errorCode(error) === 'EEXIST' && (await this.#objectExists(key, path))) {
        return { status: 'exists' };
      }
      throw this.#writeError(key, error);
    }
    await fsyncPath(dirname(path));
    return { status: 'created' };
  }

  async putIfMatch(key: string, body: Uint8Array, expectedEtag: string | null): Promise<string> {
    const path = this.#pathOf(key);
    if (body.byteLength > MAX_REF_BYTES) {
      throw new InputError(
        `ref ${key} would be ${body.byteLength} bytes; compare-and-swap writes take at most ${MAX_REF_BYTES}`,
        { hint: 'Store large content as an immutable object and point to it from the ref.' },
      );
    }
    await this.#prepareWrite();
    // The slow part (write + fsync) happens before taking the lock, so the lock is held only for
    // compare + rename.
    const temp = await this.#writeTemp(body);
    try {
      await this.#makeParents(key, path);
      const lock = await RefLock.acquire(this.#lockPathOf(key), `ref ${key}`, {
        timeoutMs: this.#lockTimeoutMs,
        staleMs: this.#staleLockMs,
      });
      try {
        if (expectedEtag === null) {
          // link() refuses an existing key, so this also holds against a concurrent putIfAbsent.
          await lock.assertHeld();
          try {
            await link(temp, path);
          } catch (error) {
            if (errorCode(error) === 'EEXIST') {
              throw new ConflictError(`ref ${key} already exists; expected it to be absent`, {
                hint: 'Read the ref again and retry with its current etag.',
              });
            }
            throw this.#writeError(key, error);
          }
        } else {
          const current = await this.head(key);
          if (current === undefined) {
            throw new ConflictError(`ref ${key} does not exist; expected etag ${expectedEtag}`, {
              hint: 'Read the ref again and retry.',
            });
          }
          if (current.etag !== expectedEtag) {
            throw new ConflictError(`ref ${key} changed since it was read (etag ${current.etag})`, {
              hint: 'Read the ref again and retry with its current etag.',
            });
          }
          await lock.assertHeld();
          await rename(temp, path);
        }
        await fsyncPath(dirname(path));
      } finally {
        await lock.release();
      }
      return contentEtag(body);
    } finally {
      await unlink(temp).catch(ignoreMissing);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertKeyPrefix(prefix);
    // Start at the deepest folder the prefix fixes completely; its partial last segment filters.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut + 1);
    yield* this.#walk(base, prefix);
  }

  /**
   * Yields the objects below folder `dirKey` (`''` or ending with `/`) in lexicographic key order:
   * entries are sorted by name with `/` appended to folders, which is exactly the order of the full
   * keys, so nothing has to be collected beyond one folder listing.
   *
   * Sub-folders are read ahead, {@link READ_AHEAD} at a time (their listing, and the sizes of a small
   * folder's files): a store of many small folders — one per dataset version or run — is then listed
   * at the speed of the disk, not of one round trip to the thread pool per folder. What is held stays
   * bounded: a few folder listings.
   * @param listing the folder's listing when it was read ahead
   */
  async *#walk(
    dirKey: string,
    prefix: string,
    listing?: Promise<Folder | undefined>,
  ): AsyncGenerator<ListedObject> {
    const folder = await (listing ?? this.#readFolder(dirKey));
    if (folder === undefined) return;
    const descend = (key: string) => key.startsWith(prefix) || prefix.startsWith(key);
    const subfolders = folder.entries.filter((e) => e.folder && descend(`${dirKey}${e.name}/`));
    const ahead = new Map<string, Promise<Folder | undefined>>();
    let queued = 0;
    const readAhead = (): void => {
      while (queued < subfolders.length && ahead.size < READ_AHEAD) {
        const key = `${dirKey}${(subfolders[queued] as FolderEntry).name}/`;
        const read = this.#readFolder(key);
        // Awaited (and its error thrown) when the walk gets there; never left unhandled before.
        read.catch(() => undefined);
        ahead.set(key, read);
        queued += 1;
      }
    };
    let batch: string[] = [];
    for (const entry of folder.entries) {
      const key = `${dirKey}${entry.name}`;
      if (entry.folder) {
        yield* this.#describe(batch);
        batch = [];
        const folderKey = `${key}/`;
        if (descend(folderKey)) {
          readAhead();
          const read = ahead.get(folderKey);
          ahead.delete(folderKey);
          yield* this.#walk(folderKey, prefix, read);
        }
      } else if (key.startsWith(prefix)) {
        if (entry.size !== undefined) {
          yield* this.#describe(batch);
          batch = [];
          if (entry.size >= 0) yield { key, size: entry.size };
          continue;
        }
        batch.push(key);
        if (batch.length >= LIST_BATCH) {
          yield* this.#describe(batch);
          batch = [];
        }
      }
    }
    yield* this.#describe(batch);
  }

  /**
   * The entries of folder `dirKey`, sorted in key order, with the sizes of its files when it holds
   * at most {@link LIST_BATCH} (a larger folder's files are stat'ed as the walk reaches them).
   * `undefined` when the folder does not exist.
   */
  async #readFolder(dirKey: string): Promise<Folder | undefined> {
    let entries: FolderEntry[];
    try {
      const dirents = await readdir(join(this.#root, ...dirKey.split('/')), { withFileTypes: true });
      entries = dirents
        // Links and devices are not objects; names no key can have were not written by the store.
        .filter((entry) => entry.isFile() || entry.isDirectory())
        .filter((entry) => !entry.name.includes('\\'))
        .filter((entry) => !(dirKey === '' && entry.name === RESERVED_SEGMENT))
        .map((entry) => {
          const folder = entry.isDirectory();
          const sortKey = Buffer.from(folder ? `${entry.name}/` : entry.name);
          return { name: entry.name, folder, sortKey };
        })
        .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined;
      throw error;
    }
    const files = entries.filter((e) => !e.folder);
    if (files.length > 0 && files.length <= LIST_BATCH) {
      const sizes = await this.#sizes(files.map((e) => `${dirKey}${e.name}`));
      files.forEach((entry, i) => {
        entry.size = sizes[i] ?? -1;
      });
    }
    return { entries };
  }
  /**
   * Stats a batch of keys concurrently and yields them in the given order. Only sizes: an etag may
   * need the content hashed, and a listing must not read every object.
   */
  async *#describe(keys: readonly string[]): AsyncGenerator<ListedObject> {
    if (keys.length === 0) return;
    const sizes = await this.#sizes(keys);
    for (const [i, key] of keys.entries()) {
      const size = sizes[i];
      if (size !== undefined) yield { key, size };
    }
  }

  /** The sizes of `keys`, concurrently; `undefined` for one that is gone or is not a file. */
  #sizes(keys: readonly string[]): Promise<(number | undefined)[]> {
    return Promise.all(
      keys.map((key) =>
        stat(this.#pathOf(key)).then(
          (info) => (info.isFile() ? info.size : undefined),
          () => undefined,
        ),
      ),
    );
  }

  #pathOf(key: string): string {
    assertObjectKey(key);
    const path = join(this.#root, ...key.split('/'));
    // Belt and braces: validation already rules out every way out of the root.
    if (!path.startsWith(this.#root + sep)) throw new InputError(`object key ${key} escapes the store`);
    return path;
  }

  #lockPathOf(key: string): string {
    return join(this.#locks, `${createHash('sha256').update(key).digest('hex')}.lock`);
  }

  async #objectExists(key: string, path: string): Promise<boolean> {
    let info: Stats;
    try {
      info = await stat(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw this.#writeError(key, error);
    }
    if (info.isFile()) return true;
    throw new ConflictError(`cannot store object ${key}: ${path} is a folder of other objects`, {
      hint: 'On the filesystem a key cannot be both an object and a prefix of other keys.',
    });
  }

  /** Creates the internal folders once, and sweeps leftovers of killed writers now and then. */
  async #prepareWrite(): Promise<void> {
    this.#internalDirs ??= Promise.all([
      mkdir(this.#staging, { recursive: true }),
      mkdir(this.#locks, { recursive: true }),
    ]).then(() => undefined);
    try {
      await this.#internalDirs;
    } catch (error) {
      this.#internalDirs = undefined;
      throw error;
    }
    if (Date.now() - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      this.#lastSweep = Date.now();
      await this.sweepStaleTemps();
    }
  }

  /**
   * Removes temp files (and ref-lock drafts) not touched for `staleTempMs`: what a writer killed
   * midway leaves behind. A live writer keeps touching its temp file, so it is never swept. Runs by
   * itself on writes at most once a minute; callable directly.
   * @returns how many files were removed
   */
  async sweepStaleTemps(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const [folder, leftover] of [
      [this.#staging, (name: string) => name.endsWith('.tmp')],
      [this.#locks, (name: string) => name.endsWith('.tmp') || name.endsWith('.stale')],
    ] as const) {
      let names: string[];
      try {
        names = await readdir(folder);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') continue;
        throw error;
      }
      for (const name of names.filter(leftover)) {
        const file = join(folder, name);
        try {
          if (now - (await stat(file)).mtimeMs > this.#staleTempMs) {
            await unlink(file);
            removed += 1;
          }
        } catch (error) {
          ignoreMissing(error); // another process swept it first
        }
      }
    }
    return removed;
  }

  /** Streams `body` into a new temp file in the staging folder and fsyncs it. */
  async #writeTemp(body: ObjectBody): Promise<string> {
    const temp = join(this.#staging, `${randomBytes(16).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx');
    try {
      if (body instanceof Uint8Array) await handle.writeFile(body);
      else await writeFlushing(handle, body);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(ignoreMissing);
      throw error;
    }
    await handle.close();
    return temp;
  }

  /** Creates the folders above `path` and fsyncs the parents of the new ones, so they survive a crash. */
  async #makeParents(key: string, path: string): Promise<void> {
    const parent = dirname(path);
    let first: string | undefined;
    try {
      first = await mkdir(parent, { recursive: true });
    } catch (error) {
      throw this.#writeError(key, error);
    }
    if (first === undefined) return;
    // `first` is the topmost folder created: its parent and every new folder above `parent` gain an
    // entry; `parent` itself is fsynced after the object is published in it.
    const created = [first];
    for (const segment of parent
      .slice(first.length + 1)
      .split(sep)
      .filter((s) => s !== '')) {
      created.push(join(created[created.length - 1] ?? first, segment));
    }
    for (const folder of [dirname(first), ...created.slice(0, -1)]) await fsyncPath(folder);
  }

  #writeError(key: string, error: unknown): unknown {
    const code = errorCode(error);
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      return new ConflictError(`cannot store object ${key}: a prefix of it is already an object`, {
        hint: 'On the filesystem a key cannot be both an object and a prefix of other keys.',
        cause: error,
      });
    }
    if (code === 'ENAMETOOLONG') {
      return new InputError(`object key ${key} is too long for the filesystem`, { cause: error });
    }
    return error;
  }
}

/** Bytes written to a temp file between two flushes to the disk. */
const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Writes a streamed body chunk by chunk (memory stays bounded by the chunk size), flushing the data to
 * the disk every 64 MB: a large object then reaches the disk while its later chunks are still being
 * produced, instead of all of it in the final fsync after the last one.
 */
async function writeFlushing(handle: FileHandle, body: AsyncIterable<Uint8Array>): Promise<void> {
  let unflushed = 0;
  for await (const chunk of body) {
    for (let offset = 0; offset < chunk.byteLength; ) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
      offset += bytesWritten;
    }
    unflushed += chunk.byteLength;
    if (unflushed >= FLUSH_EVERY_BYTES) {
      await handle.datasync();
      unflushed = 0;
    }
  }
}

/** Opens an object for reading; `undefined` when nothing is at the path. */
async function openObject(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

async function* streamFile(path: string): AsyncGenerator<Uint8Array> {
  // The stream closes its file when it ends, fails, or the consumer stops early.
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield chunk as Uint8Array;
}

/**
 * The etag of a file read through `handle`. Refs (at most MAX_REF_BYTES) get the sha256 of their
 * content: two different contents never share an etag, so a stale compare-and-swap cannot pass. Hashing
 * every large object on each `head` or `list` would be slow, so larger objects get an identity etag
 * (device, inode, size, mtime). That is safe too: large objects are only written by `putIfAbsent` and
 * never replaced by another large object (putIfMatch takes small bodies only, and there is no delete),
 * and the two kinds of etag cannot be equal to each other.
 */
async function etagOf(handle: FileHandle, info: BigIntStats): Promise<string> {
  if (info.size > BigInt(MAX_REF_BYTES)) return fileEtag(info);
  return contentEtag(new Uint8Array(await handle.readFile()));
}

function contentEtag(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function fileEtag(info: BigIntStats): string {
  return `file:${info.dev}-${info.ino}-${info.size}-${info.mtimeNs}`;
}

/**
 * fsync through a read-only descriptor (enough on Linux): a file's data reaches the disk; a folder's
 * new or renamed entries become durable.
 */
async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Releases a body we will not read (an open file stream, say) without reading it. */
async function discard(body: ObjectBody): Promise<void> {
  if (body instanceof Uint8Array) return;
  await body[Symbol.asyncIterator]().return?.();
}

function ignoreMissing(error: unknown): void {
  if (errorCode(error) !== 'ENOENT') throw error;
}
