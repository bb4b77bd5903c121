/**
 * The storage port: everything Driftline keeps (dataset versions, runs, the local registry, captured
 * traffic, monitoring state) lives in one object store with the layout of DESIGN.md. Two adapters
 * implement it: the local filesystem under `$DRIFTLINE_HOME` (`pipelines/local/fs-store.ts`) and S3
 * (`lambdas/shared/s3-store.ts`). Logic in `pipelines/` only ever sees this interface.
 *
 * Two kinds of write, and nothing else:
 * - immutable objects (dataset versions, run artifacts, models) are created only if absent — a second
 *   write of the same key never replaces the first;
 * - mutable refs (dataset tags, the champion pointer, registry state) are replaced by compare-and-swap
 *   on the entity tag the caller last read, so two writers can never silently overwrite each other.
 * Reads and writes stream, so memory stays bounded whatever the object size.
 */

/** A body to write: bytes, or a stream of byte chunks (read once). */
export type ObjectBody = Uint8Array | AsyncIterable<Uint8Array>;

/** A listed object: its key and size (listing never reads content, so it stays cheap). */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
}

/** What is known of a stored object without reading it. */
export interface ObjectInfo extends ListedObject {
  /** Opaque version tag of the current content, for compare-and-swap. */
  readonly etag: string;
}

/** The outcome of {@link ObjectStore.putIfAbsent}. */
export interface PutIfAbsentResult {
  /** `created`: this call wrote the object; `exists`: the key was already there and is unchanged. */
  readonly status: 'created' | 'exists';
}

/** The object store port. Keys are `/`-separated paths without a leading slash. */
export interface ObjectStore {
  /** Human-readable location, e.g. `/home/me/.driftline` or `s3://bucket/prefix`, for messages. */
  readonly location: string;

  /** Metadata of `key`, or `undefined` when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** Streams the object's bytes. @throws NotFoundError when absent */
  read(key: string): Promise<AsyncIterable<Uint8Array>>;

  /** The whole object (for small objects: JSON documents, refs). @returns `undefined` when absent */
  readBytes(key: string): Promise<{ readonly bytes: Uint8Array; readonly etag: string } | undefined>;

  /**
   * Creates `key` with `body` unless it exists. Never replaces existing content, and never leaves a
   * partial object visible: the key appears complete or not at all (also when the process dies).
   */
  putIfAbsent(key: string, body: ObjectBody): Promise<PutIfAbsentResult>;
  /**
   * Optional fast path of {@link putIfAbsent} for a local file, for stores that can copy a file more
   * cheaply than by streaming it (the filesystem store: a kernel copy, or a copy-on-write clone). The
   * store copies `file` into a private draft, calls `check(draft)` with the draft's path (to verify the
   * copied bytes, or wait for other work), and publishes the draft under `key` only once `check`
   * resolves; when it rejects, nothing is published and its error is thrown. Same guarantees as
   * putIfAbsent otherwise. Callers fall back to putIfAbsent when a store lacks it.
   */
  putFileIfAbsent?(
    key: string,
    file: string,
    check: (draft: string) => Promise<void>,
  ): Promise<PutIfAbsentResult>;

  /**
   * Replaces a mutable ref by compare-and-swap.
   * @param expectedEtag the etag last read, or `null` to require that the key does not exist yet
   * @returns the new etag
   * @throws ConflictError when the current content is not the one expected
   */
  putIfMatch(key: string, body: Uint8Array, expectedEtag: string | null): Promise<string>;

  /** Every object whose key starts with `prefix`, in lexicographic key order (no etags: see {@link head}). */
  list(prefix: string): AsyncIterable<ListedObject>;
}
