/**
 * An inter-process lock on one mutable ref of the filesystem store, held for the few milliseconds of a
 * compare-and-swap. A lock is a small JSON file naming its owner; it is published with `link()`, which
 * fails when the file exists, so taking it is atomic and the file is never seen half-written.
 *
 * Why not a library: the common choice, proper-lockfile, has had no release for years, keeps locks
 * alive with mtime-refresh timers and by default throws from a timer when it decides a lock was
 * compromised. Here the critical section is a read, a hash and a rename on one machine, so a dead owner
 * is found directly (its pid no longer exists) and age is only a fallback.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError } from '../errors.ts';

/** How long to wait for a busy lock and when a lock counts as abandoned. */
export interface RefLockOptions {
  /** Give up (ConflictError) after waiting this long for another live writer. */
  readonly timeoutMs: number;
  /** A lock older than this is abandoned even if its owner's pid looks alive (pid reuse, other host). */
  readonly staleMs: number;
}

interface LockOwner {
  readonly token: string;
  readonly pid: number;
  readonly host: string;
}

interface LockState {
  readonly owner: LockOwner;
  readonly ageMs: number;
}

/** A held lock. Check {@link RefLock.assertHeld} right before publishing, then {@link RefLock.release}. */
export class RefLock {
  readonly #path: string;
  readonly #token: string;
  readonly #what: string;

  private constructor(path: string, token: string, what: string) {
    this.#path = path;
    this.#token = token;
    this.#what = what;
  }

  /**
   * Takes the lock file `path`, waiting while a live process holds it and breaking it when its owner
   * is gone. `what` names the locked thing in messages.
   * @throws ConflictError when a live owner keeps it longer than `timeoutMs`
   */
  static async acquire(path: string, what: string, options: RefLockOptions): Promise<RefLock> {
    const token = randomBytes(16).toString('hex');
    const owner: LockOwner = { token, pid: process.pid, host: hostname() };
    // Written complete beside the lock, then linked into place: a reader never sees a partial owner.
    const draft = `${path}.${token}.tmp`;
    await writeFile(draft, JSON.stringify(owner), { flag: 'wx' });
    try {
      const deadline = Date.now() + options.timeoutMs;
      let pauseMs = 1;
      for (;;) {
        try {
          await link(draft, path);
          return new RefLock(path, token, what);
        } catch (error) {
          if (errorCode(error) !== 'EEXIST') throw error;
        }
        const holder = await readLock(path);
        if (holder === undefined) continue; // released between our attempt and the read
        if (isAbandoned(holder, options.staleMs)) {
          await breakLock(path, holder.owner.token);
          continue;
        }
        if (Date.now() > deadline) {
          throw new ConflictError(
            `${what} is locked by process ${holder.owner.pid} on ${holder.owner.host || 'an unknown host'}`,
            { hint: 'Another Driftline command is updating it; try again when it has finished.' },
          );
        }
        await sleep(pauseMs + Math.random() * pauseMs);
        pauseMs = Math.min(pauseMs * 2, 25);
      }
    } finally {
      await unlink(draft).catch(ignoreMissing);
    }
  }

  /**
   * Throws a ConflictError if the lock was broken by another process that judged it abandoned, so a
   * writer that stalled past `staleMs` does not publish over the next owner's work.
   */
  async assertHeld(): Promise<void> {
    const holder = await readLock(this.#path);
    if (holder?.owner.token !== this.#token) {
      throw new ConflictError(`lost the lock on ${this.#what} while writing; nothing was changed`, {
        hint: 'The write stalled longer than the lock lifetime; try again.',
      });
    }
  }

  /** Removes the lock file if it is still ours (never another owner's). */
  async release(): Promise<void> {
    const holder = await readLock(this.#path);
    if (holder?.owner.token === this.#token) await unlink(this.#path).catch(ignoreMissing);
  }
}

async function readLock(path: string): Promise<LockState | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { owner: parseOwner(text), ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function parseOwner(text: string): LockOwner {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const { token, pid, host } = value as Record<string, unknown>;
      if (typeof token === 'string' && typeof pid === 'number' && typeof host === 'string') {
        return { token, pid, host };
      }
    }
  } catch {
    // fall through: a foreign or damaged file, judged by age alone
  }
  return { token: '', pid: 0, host: '' };
}

function isAbandoned(lock: LockState, staleMs: number): boolean {
  if (lock.ageMs > staleMs) return true;
  const { pid, host } = lock.owner;
  return host === hostname() && pid > 0 && !isAlive(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM'; // exists, owned by another user
  }
}

/**
 * Removes an abandoned lock. Moving it aside first (rename is atomic, only one breaker wins) lets us
 * check that what we removed is the lock we judged; if a new owner had taken it meanwhile, it is put
 * back — and should a third process have locked in between, the displaced owner's `assertHeld` fails.
 */
async function breakLock(path: string, judgedToken: string): Promise<void> {
  const aside = `${path}.${randomBytes(8).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await readLock(aside);
  if (moved !== undefined && moved.owner.token !== judgedToken) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(ignoreMissing);
}

/** The `code` of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

function ignoreMissing(error: unknown): void {
  if (errorCode(error) !== 'ENOENT') throw error;
}
