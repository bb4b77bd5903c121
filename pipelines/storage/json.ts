/** JSON documents in the object store: immutable ones, and refs updated by compare-and-swap. */
import { ConflictError } from '../errors.ts';
import type { ObjectStore } from './object-store.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serialises a document (pretty, newline-terminated: these files are read by people too). */
export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a JSON document and its etag; `undefined` when absent. */
export async function readJson<T>(
  store: ObjectStore,
  key: string,
): Promise<{ value: T; etag: string } | undefined> {
  const found = await store.readBytes(key);
  if (found === undefined) return undefined;
  return { value: JSON.parse(decoder.decode(found.bytes)) as T, etag: found.etag };
}

/** Options of {@link updateJson}. */
export interface UpdateOptions {
  /** Most read-change-write rounds before giving up. @default 200 */
  readonly attempts?: number;
}

/**
 * Updates a JSON ref by compare-and-swap: reads it, applies `change` (it gets `undefined` when the ref
 * does not exist yet; it may be async, e.g. to look something up between read and write), writes the
 * result only if nobody wrote in between, and otherwise re-reads and re-applies. `change` may return
 * `undefined` to leave the ref as it is; an error thrown by `change` ends the update unchanged.
 * @returns the value stored once the update is done
 * @throws ConflictError when the ref changed under every attempt
 */
export async function updateJson<T>(
  store: ObjectStore,
  key: string,
  change: (current: T | undefined) => T | undefined | Promise<T | undefined>,
  options: UpdateOptions = {},
): Promise<T | undefined> {
  const attempts = options.attempts ?? 200;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const current = await readJson<T>(store, key);
    const next = await change(current?.value);
    if (next === undefined) return current?.value;
    try {
      await store.putIfMatch(key, jsonBytes(next), current?.etag ?? null);
      return next;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Another writer got in first. A jittered, growing back-off spreads the retries of many
      // contenders; capped so that a long queue of writers still drains quickly.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 + attempt, 20)));
    }
  }
  throw new ConflictError(`${key} changed under every one of ${attempts} attempts to update it`, {
    hint: 'another process keeps writing it; try again',
  });
}
