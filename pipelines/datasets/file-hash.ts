/**
 * sha256 off the calling thread. Node hashes synchronously on the thread that calls it, and a push
 * hashes its file twice: once to name the version before anything is stored, and once more over the
 * very bytes it hands to the store. On a worker thread both overlap the validation running on the
 * calling thread instead of adding to it.
 *
 * The bytes of the second hash reach the worker through a small ring of shared memory: the calling
 * thread copies each chunk in and goes on; nothing is allocated per chunk, and the ring bounds what is
 * in flight. Where no worker can start (a bundle without the worker's file), the hashes are computed
 * on the calling thread.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** sha256 (hex) of a file, streamed, on the calling thread. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Slots of the ring and their size: 4 MB in flight at most. */
export const RING_SLOTS = 4;
export const RING_SLOT_BYTES = 1 << 20;
/** The ring's control words: chunks written, chunks hashed, the end flag, then each slot's length. */
export const HEAD = 0;
export const TAIL = 1;
export const DONE = 2;
export const LENGTHS = 3;

/** What the worker posts: that it runs, then each hash asked for, or why there is none. */
export type HashReply = 'started' | { readonly hex: string } | { readonly error: string };

/** What the worker is asked: the hash of a file, or of what comes through a ring. */
export type HashRequest =
  | { readonly file: string }
  | { readonly ring: SharedArrayBuffer; readonly control: SharedArrayBuffer };

/** A hash fed chunk by chunk. */
export interface RunningHash {
  /** Adds `chunk` (copied: the caller keeps its buffer). */
  update(chunk: Uint8Array): Promise<void>;
  /** The sha256 (hex) of everything added. */
  digest(): Promise<string>;
}

class InThreadHash implements RunningHash {
  readonly #hash: Hash = createHash('sha256');

  update(chunk: Uint8Array): Promise<void> {
    this.#hash.update(chunk);
    return Promise.resolve();
  }

  digest(): Promise<string> {
    return Promise.resolve(this.#hash.digest('hex'));
  }
}

/** The calling thread's end of the ring. */
class RingHash implements RunningHash {
  readonly #ring: Uint8Array;
  readonly #control: Int32Array;
  readonly #hex: Promise<string>;
  #head = 0;

  constructor(ring: SharedArrayBuffer, control: SharedArrayBuffer, hex: Promise<string>) {
    this.#ring = new Uint8Array(ring);
    this.#control = new Int32Array(control);
    this.#hex = hex;
  }

  async update(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.byteLength; offset += RING_SLOT_BYTES) {
      const piece = chunk.subarray(offset, Math.min(chunk.byteLength, offset + RING_SLOT_BYTES));
      // Wait for a free slot: the worker frees them in order.
      for (;;) {
        const tail = Atomics.load(this.#control, TAIL);
        if (this.#head - tail < RING_SLOTS) break;
        const waited = Atomics.waitAsync(this.#control, TAIL, tail, 1000);
        if (waited.async) await waited.value;
      }
      const slot = this.#head % RING_SLOTS;
      this.#ring.set(piece, slot * RING_SLOT_BYTES);
      Atomics.store(this.#control, LENGTHS + slot, piece.byteLength);
      this.#head += 1;
      Atomics.store(this.#control, HEAD, this.#head);
      Atomics.notify(this.#control, HEAD);
    }
  }

  digest(): Promise<string> {
    Atomics.store(this.#control, DONE, 1);
    Atomics.notify(this.#control, HEAD);
    return this.#hex;
  }
}

/**
 * Hashes on one worker thread: first a whole file, then, if asked, a running hash. Falls back to the
 * calling thread when no worker starts. Stop it when done.
 */
export class Sha256Worker {
  readonly #worker: Worker | undefined;
  readonly #started: Promise<boolean>;
  #reply: ((message: Exclude<HashReply, 'started'>) => void) | undefined;
  #failure: ((error: Error) => void) | undefined;

  private constructor(worker: Worker | undefined) {
    this.#worker = worker;
    if (worker === undefined) {
      this.#started = Promise.resolve(false);
      return;
    }
    this.#started = new Promise<boolean>((resolve) => {
      let started = false;
      worker.on('message', (message: HashReply) => {
        if (message === 'started') {
          started = true;
          resolve(true);
        } else this.#reply?.(message);
      });
      // A worker that cannot start is no worker: the hashes are computed here instead. Once started,
      // its failure is the push's.
      worker.on('error', (error) => (started ? this.#failure?.(error) : resolve(false)));
      worker.on('exit', () => {
        resolve(false);
        this.#failure?.(new Error('the hashing thread stopped'));
      });
    });
  }

  /** A hasher on a worker thread when `useWorker` (worth it for a large file), else on this thread. */
  static start(useWorker: boolean): Sha256Worker {
    if (!useWorker) return new Sha256Worker(undefined);
    try {
      return new Sha256Worker(new Worker(new URL('./sha256-worker.ts', import.meta.url)));
    } catch {
      return new Sha256Worker(undefined);
    }
  }

  /** sha256 (hex) of `file`. */
  async hashFile(file: string): Promise<string> {
    if (!(await this.#started)) return sha256OfFile(file);
    return this.#ask({ file });
  }

  /** A running hash (one at a time, after {@link Sha256Worker.hashFile} has answered). */
  async begin(): Promise<RunningHash> {
    if (!(await this.#started)) return new InThreadHash();
    const ring = new SharedArrayBuffer(RING_SLOTS * RING_SLOT_BYTES);
    const control = new SharedArrayBuffer(4 * (LENGTHS + RING_SLOTS));
    const hex = this.#ask({ ring, control });
    hex.catch(() => undefined);
    return new RingHash(ring, control, hex);
  }

  /** Stops the worker. */
  stop(): void {
    if (this.#worker !== undefined) void this.#worker.terminate();
  }

  #ask(request: HashRequest): Promise<string> {
    const answer = new Promise<string>((resolve, reject) => {
      this.#reply = (message) => ('hex' in message ? resolve(message.hex) : reject(new Error(message.error)));
      this.#failure = reject;
    });
    this.#worker?.postMessage(request);
    return answer;
  }
}
