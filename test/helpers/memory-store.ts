/**
 * An in-memory {@link ObjectStore} with the port's semantics, for fast unit tests: putIfAbsent never
 * replaces, putIfMatch compares etags, throws ConflictError and takes refs of at most MAX_REF_BYTES,
 * keys obey the same rules as in the real adapters, and every call yields to the event loop so
 * concurrent callers really interleave. It counts the calls, so tests can assert how many objects
 * an operation reads.
 */
import { ConflictError, InputError, NotFoundError } from '../../pipelines/errors.ts';
import { assertKeyPrefix, assertObjectKey, MAX_REF_BYTES } from '../../pipelines/storage/object-key.ts';
import type {
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutIfAbsentResult,
} from '../../pipelines/storage/object-store.ts';

interface StoredObject {
  readonly bytes: Uint8Array;
  readonly etag: string;
}

/** How many times each kind of call reached the store. */
export interface MemoryStoreCalls {
  head: number;
  read: number;
  readBytes: number;
  putIfAbsent: number;
  putIfMatch: number;
  list: number;
}

/** An object store in a Map. */
export class MemoryObjectStore implements ObjectStore {
  readonly location = 'memory://test';
  readonly calls: MemoryStoreCalls = {
    head: 0,
    read: 0,
    readBytes: 0,
    putIfAbsent: 0,
    putIfMatch: 0,
    list: 0,
  };
  readonly #objects = new Map<string, StoredObject>();
  #generation = 0;

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.calls.head += 1;
    assertObjectKey(key);
    await tick();
    const found = this.#objects.get(key);
    return found === undefined ? undefined : { key, size: found.bytes.length, etag: found.etag };
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    this.calls.read += 1;
    assertObjectKey(key);
    await tick();
    const found = this.#objects.get(key);
    if (found === undefined) throw new NotFoundError(`${key} does not exist in ${this.location}`);
    const bytes = found.bytes.slice();
    return (async function* () {
      yield bytes;
    })();
  }

  async readBytes(key: string): Promise<{ readonly bytes: Uint8Array; readonly etag: string } | undefined> {
    this.calls.readBytes += 1;
    assertObjectKey(key);
    await tick();
    const found = this.#objects.get(key);
    return found === undefined ? undefined : { bytes: found.bytes.slice(), etag: found.etag };
  }

  async putIfAbsent(key: string, body: ObjectBody): Promise<PutIfAbsentResult> {
    this.calls.putIfAbsent += 1;
    assertObjectKey(key);
    const bytes = await collect(body);
    await tick();
    // Check and insert with no await in between: that is the atomicity the port promises.
    if (this.#objects.has(key)) return { status: 'exists' };
    this.#objects.set(key, { bytes, etag: this.#nextEtag() });
    return { status: 'created' };
  }

  async putIfMatch(key: string, body: Uint8Array, expectedEtag: string | null): Promise<string> {
    this.calls.putIfMatch += 1;
    assertObjectKey(key);
    if (body.byteLength > MAX_REF_BYTES) {
      throw new InputError(
        `ref ${key} would be ${body.byteLength} bytes; compare-and-swap takes at most ${MAX_REF_BYTES}`,
      );
    }
    const bytes = body.slice();
    await tick();
    const current = this.#objects.get(key)?.etag ?? null;
    if (current !== expectedEtag) {
      throw new ConflictError(
        `${key} changed: expected ${expectedEtag === null ? 'no object' : `etag ${expectedEtag}`}, found ${current === null ? 'none' : `etag ${current}`}`,
      );
    }
    const etag = this.#nextEtag();
    this.#objects.set(key, { bytes, etag });
    return etag;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.calls.list += 1;
    assertKeyPrefix(prefix);
    await tick();
    const keys = [...this.#objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    for (const key of keys) {
      const found = this.#objects.get(key);
      if (found !== undefined) yield { key, size: found.bytes.length, etag: found.etag };
    }
  }

  /** Test access: the text of an object, or `undefined`. */
  text(key: string): string | undefined {
    const found = this.#objects.get(key);
    return found === undefined ? undefined : new TextDecoder().decode(found.bytes);
  }

  /** Test access: replaces an object behind the port's back (to simulate corruption or a crash). */
  poke(key: string, text: string): void {
    this.#objects.set(key, { bytes: new TextEncoder().encode(text), etag: this.#nextEtag() });
  }

  /** Sets every counter in {@link calls} back to 0. */
  resetCalls(): void {
    for (const name of Object.keys(this.calls) as (keyof MemoryStoreCalls)[]) this.calls[name] = 0;
  }

  #nextEtag(): string {
    this.#generation += 1;
    return `"${this.#generation}"`;
  }
}

/** Lets other pending promises run, as a real store's I/O would. */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function collect(body: ObjectBody): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body.slice();
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}
