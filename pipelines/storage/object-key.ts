/**
 * The rules every object key obeys, in both storage adapters. The layout must be the same in a local
 * folder and in the bucket, so a key the filesystem cannot hold safely is refused by S3 as well.
 */
import { InputError } from '../errors.ts';

/**
 * The first key segment the filesystem adapter keeps for itself (staging files and ref locks). No
 * object key may start with it, so store internals never show up as objects or collide with one.
 */
export const RESERVED_SEGMENT = '.driftline-store';

/**
 * The largest body a compare-and-swap write accepts. Refs are small pointers; keeping them under this
 * size lets the filesystem adapter give every ref a content hash as its etag (see `fs-store.ts`).
 */
export const MAX_REF_BYTES = 1024 * 1024;

/**
 * Throws an InputError unless `key` is a relative `/`-separated path that stays inside the store: no
 * leading `/`, no empty, `.` or `..` segment, no backslash or NUL, not under {@link RESERVED_SEGMENT}.
 */
export function assertObjectKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new InputError(`invalid object key ${JSON.stringify(key)}: ${problem}`, {
      hint: 'Keys are relative paths like "datasets/flights/refs/latest".',
    });
  }
}

/**
 * Throws an InputError unless `prefix` is empty or the start of a valid key (it may end with `/` or in
 * the middle of a segment, as S3 prefixes do).
 */
export function assertKeyPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem !== undefined) {
    throw new InputError(`invalid key prefix ${JSON.stringify(prefix)}: ${problem}`);
  }
}

function keyProblem(key: string): string | undefined {
  if (key === '') return 'it is empty';
  if (key.startsWith('/')) return 'it is an absolute path';
  if (key.includes('\\')) return 'it contains a backslash';
  if (key.includes('\0')) return 'it contains a NUL character';
  const segments = key.split('/');
  if (segments.some((segment) => segment === '')) return 'it has an empty segment';
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return 'it has a "." or ".." segment';
  }
  if (segments[0] === RESERVED_SEGMENT) return `"${RESERVED_SEGMENT}" is reserved for the store itself`;
  return undefined;
}
