import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../../pipelines/errors.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import { MAX_REF_BYTES } from '../../../pipelines/storage/object-key.ts';
import { describeObjectStoreContract, listAll } from '../../helpers/object-store-contract.ts';
import type { WorkerMessage } from '../../helpers/store-worker.ts';
import { tempDir } from '../../helpers/tmp.ts';

const WORKER = fileURLToPath(new URL('../../helpers/store-worker.ts', import.meta.url));
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

describeObjectStoreContract('FsObjectStore', async () => new FsObjectStore(await tempDir('driftline-fs-')), {
  enforcesConditionalWrites: true,
  listsInKeyOrder: true,
});

describe('FsObjectStore on disk', () => {
  let root = '';
  let store: FsObjectStore;
  beforeAll(async () => {
    root = await tempDir('driftline-fs-');
    store = new FsObjectStore(root);
  });

  it('maps keys to files below the root and leaves nothing in staging', async () => {
    await store.putIfAbsent('datasets/flights/refs/latest', encode('abc'));
    expect(await readFile(join(root, 'datasets/flights/refs/latest'), 'utf8')).toBe('abc');
    expect(await readdir(store.stagingFolder)).toEqual([]);
    expect(store.location).toBe(root);
  });

  it('gives refs a sha256 content etag and large objects an identity etag', async () => {
    const etag = await store.putIfMatch('etags/ref', encode('v1'), null);
    expect(etag).toBe(`sha256:${createHash('sha256').update('v1').digest('hex')}`);
    expect((await store.head('etags/ref'))?.etag).toBe(etag);
    await store.putIfAbsent('etags/large', new Uint8Array(MAX_REF_BYTES + 1));
    const large = await store.head('etags/large');
    expect(large?.etag).toMatch(/^file:\d+-\d+-\d+-\d+$/);
    expect((await store.readBytes('etags/large'))?.etag).toBe(large?.etag);
    // A content etag and an identity etag never match each other.
    await expect(store.putIfMatch('etags/large', encode('x'), etag)).rejects.toBeInstanceOf(ConflictError);
  });

  it('lists without the staging folder and lock files', async () => {
    const own = await tempDir('driftline-fs-');
    const fresh = new FsObjectStore(own);
    await fresh.putIfMatch('refs/champion', encode('m1'), null);
    await fresh.putIfAbsent('runs/r1/run.json', encode('{}'));
    await writeFile(join(fresh.stagingFolder, 'leftover.tmp'), 'partial');
    expect((await readdir(join(own, '.driftline-store'))).sort()).toEqual(['locks', 'staging']);
    expect((await listAll(fresh, '')).map((info) => info.key)).toEqual(['refs/champion', 'runs/r1/run.json']);
  });

  it('refuses a key that is a folder of other objects, or lies below an object', async () => {
    await store.putIfAbsent('nest/a/b', encode('b'));
    await expect(store.putIfAbsent('nest/a', encode('a'))).rejects.toBeInstanceOf(ConflictError);
    await expect(store.putIfAbsent('nest/a/b/c', encode('c'))).rejects.toBeInstanceOf(ConflictError);
    await expect(store.putIfMatch('nest/a/b/c', encode('c'), null)).rejects.toBeInstanceOf(ConflictError);
    expect(await store.head('nest/a')).toBeUndefined();
    expect(await store.readBytes('nest/a')).toBeUndefined();
  });

  it('putFileIfAbsent copies a file into a draft, checks it, then publishes it', async () => {
    // Prepare
    const own = await tempDir('driftline-fs-file-');
    const fresh = new FsObjectStore(join(own, 'home'));
    const source = join(own, 'source.bin');
    const bytes = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) % 251);
    await writeFile(source, bytes);
    const drafts: string[] = [];
    // Act
    const result = await fresh.putFileIfAbsent('data/x.bin', source, async (draft) => {
      drafts.push(draft);
      // The draft holds the file's bytes and is not visible at the key yet.
      expect(new Uint8Array(await readFile(draft))).toEqual(bytes);
      expect(await fresh.head('data/x.bin')).toBeUndefined();
    });
    // Assess
    expect(result).toEqual({ status: 'created' });
    expect(drafts).toHaveLength(1);
    expect(drafts[0]?.startsWith(fresh.stagingFolder)).toBe(true);
    expect(new Uint8Array(await readFile(join(own, 'home', 'data/x.bin')))).toEqual(bytes);
    expect(await readdir(fresh.stagingFolder)).toEqual([]);
    // A second call finds the key and neither copies nor checks.
    let checked = false;
    const again = await fresh.putFileIfAbsent('data/x.bin', source, async () => {
      checked = true;
    });
    expect(again).toEqual({ status: 'exists' });
    expect(checked).toBe(false);
  });

  it('putFileIfAbsent stores a read-only file with the permissions of other stored objects', async () => {
    const own = await tempDir('driftline-fs-file-');
    const fresh = new FsObjectStore(join(own, 'home'));
    const source = join(own, 'readonly.csv');
    await writeFile(source, 'a,b\n1,2\n');
    await chmod(source, 0o444);
    await fresh.putFileIfAbsent('data/ro.csv', source, async () => {});
    expect((await stat(join(own, 'home', 'data/ro.csv'))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(own, 'home', 'data/ro.csv'), 'utf8')).toBe('a,b\n1,2\n');
  });

  it('putFileIfAbsent publishes nothing when the check fails, and throws its error', async () => {
    const own = await tempDir('driftline-fs-file-');
    const fresh = new FsObjectStore(join(own, 'home'));
    const source = join(own, 'source.bin');
    await writeFile(source, 'some bytes');
    const refused = fresh.putFileIfAbsent('data/y.bin', source, async () => {
      throw new ConflictError('not these bytes');
    });
    await expect(refused).rejects.toThrow('not these bytes');
    expect(await fresh.head('data/y.bin')).toBeUndefined();
    expect(await readdir(fresh.stagingFolder)).toEqual([]);
    // A missing source file is the caller's error, and leaves nothing either.
    await expect(
      fresh.putFileIfAbsent('data/z.bin', join(own, 'absent.bin'), async () => {}),
    ).rejects.toThrow(/ENOENT/);
    expect(await readdir(fresh.stagingFolder)).toEqual([]);
  });

  it('lists many small folders, read ahead, in exact key order with sizes, filtered by prefix', async () => {
    // Prepare: 150 version folders (2 files each, one with a nested folder), one folder of 40 files
    // (stat'ed as the walk reaches them), names whose order differs from their folder order.
    const own = await tempDir('driftline-fs-ahead-');
    const expected: { key: string; size: number }[] = [];
    const put = async (key: string, text: string) => {
      await mkdir(join(own, ...key.split('/').slice(0, -1)), { recursive: true });
      await writeFile(join(own, ...key.split('/')), text);
      expected.push({ key, size: Buffer.byteLength(text) });
    };
    for (let v = 0; v < 150; v++) {
      const id = createHash('sha256').update(String(v)).digest('hex').slice(0, 12);
      await put(`datasets/d/versions/${id}/data.csv`, 'x'.repeat(v));
      await put(`datasets/d/versions/${id}/manifest.json`, `{"v":${v}}`);
      if (v % 10 === 0) await put(`datasets/d/versions/${id}/extra/a.json`, '{}');
    }
    for (let n = 0; n < 40; n++) await put(`datasets/d/big/${n}.json`, String(n));
    await put('datasets/d/versions-index.json', '{}');
    await put('datasets/d/versions.json', '[]');
    const byKey = (a: { key: string }, b: { key: string }) =>
      Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));
    expected.sort(byKey);
    const fresh = new FsObjectStore(own);
    // Act / Assess
    expect(await listAll(fresh, 'datasets/')).toEqual(expected);
    expect(await listAll(fresh, 'datasets/d/versions')).toEqual(
      expected.filter((o) => o.key.startsWith('datasets/d/versions')),
    );
    expect(await listAll(fresh, 'datasets/d/versions/')).toHaveLength(150 * 2 + 15);
  });

  it('lists 1,200 keys in well under half a second', async () => {
    // Prepare: objects are plain files, so they are laid down directly (fsync per object is not timed here).
    const own = await tempDir('driftline-fs-list-');
    for (let day = 0; day < 12; day++) {
      const folder = join(own, 'capture', '2026', '11', String(day).padStart(2, '0'));
      await mkdir(folder, { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, n) => writeFile(join(folder, `${n}.jsonl`), `{"n":${n}}\n`)),
      );
    }
    const fresh = new FsObjectStore(own);
    // Act
    const started = performance.now();
    const listed = await listAll(fresh, 'capture/');
    const elapsed = performance.now() - started;
    // Assess
    expect(listed).toHaveLength(1200);
    const keys = listed.map((info) => info.key);
    expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(elapsed).toBeLessThan(500);
  });

  it('removes temp files a killed writer left behind, on a later write, and keeps recent ones', async () => {
    // Prepare
    const own = await tempDir('driftline-fs-sweep-');
    const first = new FsObjectStore(own, { staleTempMs: 5 * 60_000 });
    await first.putIfAbsent('warm-up', encode('x'));
    const staging = first.stagingFolder;
    const locks = join(own, '.driftline-store', 'locks');
    const hourAgo = new Date(Date.now() - 60 * 60_000);
    await writeFile(join(staging, 'old.tmp'), 'partial');
    await utimes(join(staging, 'old.tmp'), hourAgo, hourAgo);
    await writeFile(join(locks, 'old.lock.abc.tmp'), '{}');
    await utimes(join(locks, 'old.lock.abc.tmp'), hourAgo, hourAgo);
    await writeFile(join(staging, 'recent.tmp'), 'in progress');
    // Act: a new process (here: a new store instance) writes.
    await new FsObjectStore(own, { staleTempMs: 5 * 60_000 }).putIfAbsent('next', encode('y'));
    // Assess
    expect(await readdir(staging)).toEqual(['recent.tmp']);
    expect(await readdir(locks)).toEqual([]);
  });

  it('breaks a lock whose owner process is gone, and times out on a live owner', async () => {
    const own = await tempDir('driftline-fs-lock-');
    const fresh = new FsObjectStore(own, { lockTimeoutMs: 200 });
    const etag = await fresh.putIfMatch('refs/latest', encode('v1'), null);
    const lockFile = join(own, '.driftline-store', 'locks', `${sha256('refs/latest')}.lock`);
    const { hostname } = await import('node:os');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid ?? 0;

    await writeFile(lockFile, JSON.stringify({ token: 'dead', pid: deadPid, host: hostname() }));
    const next = await fresh.putIfMatch('refs/latest', encode('v2'), etag);
    expect(decode((await fresh.readBytes('refs/latest'))?.bytes)).toBe('v2');

    await writeFile(lockFile, JSON.stringify({ token: 'alive', pid: process.pid, host: hostname() }));
    const blocked = fresh.putIfMatch('refs/latest', encode('v3'), next);
    await expect(blocked).rejects.toBeInstanceOf(ConflictError);
    await expect(blocked).rejects.toThrow(`locked by process ${process.pid}`);
    expect(decode((await fresh.readBytes('refs/latest'))?.bytes)).toBe('v2');
    // An old lock is abandoned whatever its pid says.
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);
    await fresh.putIfMatch('refs/latest', encode('v3'), next);
    expect(decode((await fresh.readBytes('refs/latest'))?.bytes)).toBe('v3');
  });
});

describe('FsObjectStore across processes', () => {
  let root = '';
  beforeAll(async () => {
    root = await tempDir('driftline-fs-procs-');
  });

  it('8 processes racing putIfAbsent on one key: exactly one creates it, its content intact', async () => {
    const key = 'datasets/race/versions/v1/data.csv';
    const results = await runWorkers(8, (n) => ['put-if-absent', root, key, `writer-${n}`]);
    const created = results.filter((result) => result.status === 'created');
    expect(created).toHaveLength(1);
    expect(results.filter((result) => result.status === 'exists')).toHaveLength(7);
    expect(await readFile(join(root, key), 'utf8')).toBe(created[0]?.body);
    expect(await readdir(new FsObjectStore(root).stagingFolder)).toEqual([]);
  });

  it('8 processes incrementing a counter ref by compare-and-swap lose no update', async () => {
    const key = 'monitoring/retrain-guard/counter';
    const store = new FsObjectStore(root);
    await store.putIfMatch(key, encode('0'), null);
    const results = await runWorkers(8, () => ['cas-increment', root, key, '25']);
    const successes = results.reduce((sum, result) => sum + Number(result.successes), 0);
    expect(successes).toBe(200);
    expect(decode((await store.readBytes(key))?.bytes)).toBe('200');
    // Not asserted (scheduling decides), but shows the swaps really contended.
    console.info(`CAS conflicts retried: ${results.reduce((sum, r) => sum + Number(r.conflicts), 0)}`);
  });

  it('a writer killed (SIGKILL) midway leaves no object at the key, and the next write works', async () => {
    // Prepare
    const key = 'runs/killed/model.onnx';
    const store = new FsObjectStore(root);
    const worker = startWorker(['slow-put', root, key, '200']);
    await worker.next('ready');
    worker.child.send('go');
    await worker.next('midway');
    const temps = await readdir(store.stagingFolder);
    expect(temps).toHaveLength(1);
    // Act
    worker.child.kill('SIGKILL');
    const signal = await worker.exited;
    // Assess
    expect(signal).toBe('SIGKILL');
    expect(await store.head(key)).toBeUndefined();
    await expect(stat(join(root, key))).rejects.toThrow(/ENOENT/);
    expect(await store.putIfAbsent(key, encode('model'))).toEqual({ status: 'created' });
    expect(decode((await store.readBytes(key))?.bytes)).toBe('model');
    // The leftover temp is swept once it is old enough.
    const leftover = join(store.stagingFolder, temps[0] ?? '');
    expect((await stat(leftover)).size).toBeGreaterThan(0);
    const old = new Date(Date.now() - 60 * 60_000);
    await utimes(leftover, old, old);
    expect(await store.sweepStaleTemps()).toBe(1);
    expect(await readdir(store.stagingFolder)).toEqual([]);
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface Worker {
  readonly child: ChildProcess;
  next(kind: WorkerMessage['kind']): Promise<WorkerMessage>;
  readonly exited: Promise<NodeJS.Signals | number | null>;
}

/** Forks test/helpers/store-worker.ts on this Node (type stripping runs the .ts directly). */
function startWorker(args: readonly string[]): Worker {
  const child = fork(WORKER, args, {
    execPath: process.execPath,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: WorkerMessage[] = [];
  const waiting: ((message: WorkerMessage) => void)[] = [];
  child.on('message', (message: WorkerMessage) => {
    const waiter = waiting.shift();
    if (waiter === undefined) inbox.push(message);
    else waiter(message);
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    child,
    exited,
    async next(kind) {
      const queued = inbox.shift();
      const message =
        queued ??
        (await Promise.race([
          new Promise<WorkerMessage>((resolve) => waiting.push(resolve)),
          exited.then((end) => {
            throw new Error(`worker ended (${end}) while the test waited for ${kind}`);
          }),
        ]));
      if (message.kind !== kind) throw new Error(`worker sent ${message.kind}, expected ${kind}`);
      return message;
    },
  };
}

/** Starts `count` workers, releases them together, and returns their results in order. */
async function runWorkers(
  count: number,
  argsFor: (n: number) => readonly string[],
): Promise<Record<string, unknown>[]> {
  const workers = Array.from({ length: count }, (_, n) => startWorker(argsFor(n)));
  try {
    await Promise.all(workers.map((worker) => worker.next('ready')));
    for (const worker of workers) worker.child.send('go');
    const results = await Promise.all(
      workers.map(async (worker) => {
        const message = await worker.next('result');
        return message.kind === 'result' ? message.result : {};
      }),
    );
    expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual(Array(count).fill(0));
    return results;
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  }
}
