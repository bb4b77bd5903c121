/**
 * A separate process that writes to an FsObjectStore, for the multi-process safety tests. Started with
 * `fork()`; it says `ready`, waits for `go` (so all workers start together), does one job and reports
 * its result over IPC.
 *
 * Jobs (argv: job, root, key, argument):
 * - `put-if-absent <id>`: putIfAbsent of a streamed body made of the id, reports `{ status, body }`;
 * - `cas-increment <n>`: n successful compare-and-swap increments of a decimal counter ref, retrying on
 *   ConflictError, reports `{ successes, conflicts }`;
 * - `slow-put <chunks>`: putIfAbsent of 1 MiB chunks, slowly, reporting `midway` after 8 chunks — to be
 *   killed with SIGKILL by the test.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError } from '../../pipelines/errors.ts';
import { FsObjectStore } from '../../pipelines/local/fs-store.ts';

/** A message from the worker to the test. */
export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'midway' }
  | { readonly kind: 'result'; readonly result: Record<string, unknown> };

const [job = '', root = '', key = '', argument = ''] = process.argv.slice(2);

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(new Error('store-worker must be started with fork()'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

async function main(): Promise<void> {
  const store = new FsObjectStore(root);
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  await send({ kind: 'ready' });
  await go;

  if (job === 'put-if-absent') {
    const body = `${argument}\n`.repeat(16 * 1024);
    const { status } = await store.putIfAbsent(key, chunked(new TextEncoder().encode(body), 4096));
    await send({ kind: 'result', result: { status, body } });
  } else if (job === 'cas-increment') {
    let successes = 0;
    let conflicts = 0;
    while (successes < Number(argument)) {
      const current = await store.readBytes(key);
      if (current === undefined) throw new Error(`counter ${key} is missing`);
      const next = Number(new TextDecoder().decode(current.bytes)) + 1;
      try {
        await store.putIfMatch(key, new TextEncoder().encode(String(next)), current.etag);
        successes += 1;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        conflicts += 1;
      }
    }
    await send({ kind: 'result', result: { successes, conflicts } });
  } else if (job === 'slow-put') {
    const chunks = Number(argument);
    const body = (async function* () {
      for (let index = 0; index < chunks; index++) {
        yield new Uint8Array(1024 * 1024).fill(index % 251);
        if (index === 8) await send({ kind: 'midway' });
        if (index >= 8) await sleep(50);
      }
    })();
    const { status } = await store.putIfAbsent(key, body);
    await send({ kind: 'result', result: { status } });
  } else {
    throw new Error(`unknown job ${job}`);
  }
  process.disconnect();
}

/** Yields `bytes` in slices, giving other processes a chance to interleave between them. */
async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < bytes.byteLength; start += size) {
    yield bytes.subarray(start, start + size);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

await main();
