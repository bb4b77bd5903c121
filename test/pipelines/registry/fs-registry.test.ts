import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import { localRegistry } from '../../../pipelines/registry/local-registry.ts';
import { describeRegistryContract } from '../../helpers/registry-contract.ts';
import { seedPages } from '../../helpers/registry-fixtures.ts';
import type { RegistryWorkerMessage } from '../../helpers/registry-worker.ts';
import { tempDir } from '../../helpers/tmp.ts';

const WORKER = fileURLToPath(new URL('../../helpers/registry-worker.ts', import.meta.url));
const root = await tempDir('driftline-registry-');
let stores = 0;
const freshRoot = (): string => join(root, `store-${++stores}`);

describeRegistryContract('the filesystem store', async () => new FsObjectStore(freshRoot()));

describe('local registry on the filesystem', () => {
  it('lists 1,000 versions well under half a second', async () => {
    const store = new FsObjectStore(freshRoot());
    await seedPages(store, 1000);
    const registry = localRegistry(store);

    const started = performance.now();
    const listed = await registry.list();
    const elapsed = performance.now() - started;

    expect(listed).toHaveLength(1000);
    expect(elapsed).toBeLessThan(500);
  });

  it('gives registrations from separate processes distinct consecutive numbers and loses none', async () => {
    // Prepare: 4 processes × 8 concurrent registrations each, on one folder.
    const storeRoot = freshRoot();
    const processes = 4;
    const each = 8;
    const workers = Array.from({ length: processes }, (_, p) =>
      startWorker([storeRoot, String(p * each + 1), String(each)]),
    );
    await Promise.all(workers.map((w) => w.ready));

    // Act
    for (const worker of workers) worker.child.send('go');
    const results = (await Promise.all(workers.map((w) => w.done))).flat();

    // Assess
    const total = processes * each;
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const listed = await localRegistry(new FsObjectStore(storeRoot)).list();
    expect(listed.map((v) => v.version)).toEqual(Array.from({ length: total }, (_, i) => total - i));
    for (const { runId, version } of results) {
      expect(listed.find((v) => v.version === version)?.runId).toBe(runId);
    }
  });
});

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<readonly { runId: string; version: number }[]>;
}

/** Forks test/helpers/registry-worker.ts on this Node (type stripping runs the .ts directly). */
function startWorker(args: string[]): Worker {
  const child = fork(WORKER, args, {
    execPath: process.execPath,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const done = new Promise<readonly { runId: string; version: number }[]>((resolve, reject) => {
    child.on('message', (message: RegistryWorkerMessage) => {
      if (message.kind === 'ready') onReady();
      else resolve(message.versions);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`registry worker exited with code ${code}`));
    });
  });
  return { child, ready, done };
}
