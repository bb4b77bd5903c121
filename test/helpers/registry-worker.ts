/**
 * A separate process that registers models in a local registry on an FsObjectStore, for the
 * multi-process registration test. Started with `fork()`; it says `ready`, waits for `go` (so all
 * workers start together), registers runs `first … first+count-1` concurrently and reports the
 * version numbers it got.
 *
 * argv: root, first, count
 */
import { FsObjectStore } from '../../pipelines/local/fs-store.ts';
import { localRegistry } from '../../pipelines/registry/local-registry.ts';
import { registration } from './registry-fixtures.ts';

/** A message from the worker to the test. */
export type RegistryWorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'registered'; readonly versions: readonly { runId: string; version: number }[] };

const [root = '', first = '1', count = '0'] = process.argv.slice(2);

function send(message: RegistryWorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(new Error('registry-worker must be started with fork()'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

const registry = localRegistry(new FsObjectStore(root));
const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
await send({ kind: 'ready' });
await go;
const registered = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) => registry.register(registration(Number(first) + i))),
);
await send({ kind: 'registered', versions: registered.map((v) => ({ runId: v.runId, version: v.version })) });
process.disconnect();
