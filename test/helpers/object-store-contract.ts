/**
 * The behaviour every ObjectStore adapter must show, as one vitest suite run against each adapter on a
 * real backend (a temp folder, s3rver on loopback). Backends that ignore conditional headers (s3rver)
 * skip the tests that need the backend to enforce them; those semantics are then proven elsewhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../pipelines/errors.ts';
import type { ListedObject, ObjectStore } from '../../pipelines/storage/object-store.ts';

/** What the suite needs to know about the backend under test. */
export interface ContractBackend {
  /** False when the backend ignores If-None-Match / If-Match (s3rver). */
  readonly enforcesConditionalWrites: boolean;
  /**
   * False when the backend lists in its own order rather than S3's UTF-8 byte order (s3rver walks its
   * folders, so `a/b` comes before `a-c`); the suite then checks the listed set only.
   */
  readonly listsInKeyOrder: boolean;
}

const MiB = 1024 * 1024;
/** Size of the streamed object: well above any buffer the adapters keep and several S3 parts. */
export const LARGE_OBJECT_BYTES = 64 * MiB;

/**
 * Defines the contract suite. `open` is called once, in `beforeAll`, and returns a store over an empty
 * backend; each test works under its own key prefix.
 */
export function describeObjectStoreContract(
  name: string,
  open: () => Promise<ObjectStore>,
  backend: ContractBackend,
): void {
  describe(`${name}: ObjectStore contract`, () => {
    let store: ObjectStore;
    let counter = 0;
    const scope = (): string => `contract/t${++counter}`;
    const conditional = it.skipIf(!backend.enforcesConditionalWrites);

    beforeAll(async () => {
      store = await open();
    });

    it('round-trips bytes: putIfAbsent, head, readBytes and read agree', async () => {
      // Prepare
      const key = `${scope()}/runs/r1/run.json`;
      const bytes = new TextEncoder().encode('{"runId":"r1"}');
      // Act
      const put = await store.putIfAbsent(key, bytes);
      const info = await store.head(key);
      const whole = await store.readBytes(key);
      const streamed = await collect(await store.read(key));
      // Assess
      expect(put).toEqual({ status: 'created' });
      expect(info).toMatchObject({ key, size: bytes.byteLength });
      expect(whole?.bytes).toEqual(bytes);
      expect(whole?.etag).toBe(info?.etag);
      expect(streamed).toEqual(bytes);
    });

    it('stores a streamed body chunk by chunk, and an empty object', async () => {
      const dir = scope();
      const chunks = ['alpha,', 'beta,', 'gamma'].map((text) => new TextEncoder().encode(text));
      expect(await store.putIfAbsent(`${dir}/data.csv`, generate(chunks))).toEqual({ status: 'created' });
      expect(await store.putIfAbsent(`${dir}/empty`, new Uint8Array())).toEqual({ status: 'created' });
      expect(new TextDecoder().decode((await store.readBytes(`${dir}/data.csv`))?.bytes)).toBe(
        'alpha,beta,gamma',
      );
      expect(await store.head(`${dir}/empty`)).toMatchObject({ size: 0 });
      expect(await collect(await store.read(`${dir}/empty`))).toEqual(new Uint8Array());
    });

    it('reports missing keys: head and readBytes undefined, read NotFoundError naming the key', async () => {
      const key = `${scope()}/datasets/none/refs/latest`;
      expect(await store.head(key)).toBeUndefined();
      expect(await store.readBytes(key)).toBeUndefined();
      const failure = store.read(key);
      await expect(failure).rejects.toBeInstanceOf(NotFoundError);
      await expect(failure).rejects.toThrow(key);
      expect(await listAll(store, `${scope()}/`)).toEqual([]);
    });

    it('lists recursively in lexicographic (UTF-8 byte) key order, filtered by prefix', async () => {
      // Prepare: written out of order; "-" sorts before "/", "é" after ASCII.
      const dir = scope();
      const names = ['b', 'a/c/d', 'é', 'a0', 'a-c', 'ab', 'a/b', 'A', 'a/c/e.json'];
      for (const name of names) await store.putIfAbsent(`${dir}/${name}`, new TextEncoder().encode(name));
      // Act
      const all = await listAll(store, `${dir}/`);
      // Assess
      const ordered = (keys: string[]): string[] => (backend.listsInKeyOrder ? keys : [...keys].sort());
      const keysOf = (infos: readonly ListedObject[]): string[] => ordered(infos.map((info) => info.key));
      expect(ordered(all.map((info) => info.key.slice(dir.length + 1)))).toEqual(
        ordered(['A', 'a-c', 'a/b', 'a/c/d', 'a/c/e.json', 'a0', 'ab', 'b', 'é']),
      );
      expect(keysOf(await listAll(store, `${dir}/a`))).toEqual(
        ordered(['a-c', 'a/b', 'a/c/d', 'a/c/e.json', 'a0', 'ab'].map((n) => `${dir}/${n}`)),
      );
      expect(keysOf(await listAll(store, `${dir}/a/`))).toEqual(
        ['a/b', 'a/c/d', 'a/c/e.json'].map((n) => `${dir}/${n}`),
      );
      expect(keysOf(await listAll(store, `${dir}/a/c/e`))).toEqual([`${dir}/a/c/e.json`]);
      expect(await listAll(store, `${dir}/zz`)).toEqual([]);
      for (const info of all)
        expect(await store.head(info.key)).toMatchObject({ key: info.key, size: info.size });
    });

    it('putIfAbsent with a stream never replaces an existing object', async () => {
      const key = `${scope()}/datasets/d/versions/v1/data.csv`;
      await store.putIfAbsent(key, new TextEncoder().encode('first'));
      const again = await store.putIfAbsent(key, generate([new TextEncoder().encode('second')]));
      expect(again).toEqual({ status: 'exists' });
      expect(new TextDecoder().decode((await store.readBytes(key))?.bytes)).toBe('first');
    });

    conditional('putIfAbsent with bytes never replaces an existing object', async () => {
      const key = `${scope()}/runs/r2/model.onnx`;
      expect(await store.putIfAbsent(key, new TextEncoder().encode('first'))).toEqual({ status: 'created' });
      expect(await store.putIfAbsent(key, new TextEncoder().encode('second'))).toEqual({ status: 'exists' });
      expect(new TextDecoder().decode((await store.readBytes(key))?.bytes)).toBe('first');
    });

    conditional('putIfMatch creates with null, swaps on the current etag, refuses a stale one', async () => {
      // Prepare
      const key = `${scope()}/datasets/d/refs/latest`;
      const v1 = new TextEncoder().encode('v1');
      const v2 = new TextEncoder().encode('v2');
      // Act
      const etag1 = await store.putIfMatch(key, v1, null);
      const etag2 = await store.putIfMatch(key, v2, etag1);
      const stale = store.putIfMatch(key, new TextEncoder().encode('v3'), etag1);
      // Assess
      expect(etag2).not.toBe(etag1);
      expect((await store.head(key))?.etag).toBe(etag2);
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
      await expect(stale).rejects.toThrow(key);
      expect(await store.readBytes(key)).toEqual({ bytes: v2, etag: etag2 });
    });

    conditional(
      'putIfMatch with null on an existing key, or an etag on a missing key, conflicts',
      async () => {
        const dir = scope();
        await store.putIfAbsent(`${dir}/refs/champion`, new TextEncoder().encode('m1'));
        await expect(
          store.putIfMatch(`${dir}/refs/champion`, new TextEncoder().encode('m2'), null),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          store.putIfMatch(`${dir}/refs/missing`, new TextEncoder().encode('m2'), 'sha256:0'),
        ).rejects.toBeInstanceOf(ConflictError);
        expect(new TextDecoder().decode((await store.readBytes(`${dir}/refs/champion`))?.bytes)).toBe('m1');
        expect(await store.head(`${dir}/refs/missing`)).toBeUndefined();
      },
    );

    it('refuses keys that could escape the store or break the layout', async () => {
      const bad = [
        '',
        '/etc/passwd',
        '../outside',
        'a/../../b',
        'a//b',
        'a/',
        'a\\b',
        'a/./b',
        '.driftline-store/x',
      ];
      for (const key of bad) {
        await expect(store.head(key), key).rejects.toBeInstanceOf(InputError);
        await expect(store.putIfAbsent(key, new Uint8Array([1])), key).rejects.toBeInstanceOf(InputError);
        await expect(store.putIfMatch(key, new Uint8Array([1]), null), key).rejects.toBeInstanceOf(
          InputError,
        );
      }
      await expect(listAll(store, '../')).rejects.toBeInstanceOf(InputError);
    });

    it('refuses a compare-and-swap body too large for a ref', async () => {
      const key = `${scope()}/refs/huge`;
      await expect(store.putIfMatch(key, new Uint8Array(2 * MiB), null)).rejects.toBeInstanceOf(InputError);
      expect(await store.head(key)).toBeUndefined();
    });

    it(`streams a ${LARGE_OBJECT_BYTES / MiB} MB object in and out with bounded memory`, async () => {
      // Prepare: the body is generated on the fly and hashed as it goes, never held whole.
      const key = `${scope()}/datasets/big/versions/v1/data.bin`;
      const writer = createHash('sha256');
      const body = (async function* () {
        for (let sent = 0; sent < LARGE_OBJECT_BYTES; sent += MiB) {
          const chunk = randomBytes(MiB);
          writer.update(chunk);
          yield chunk;
          if (sent % (4 * MiB) === 0) collectGarbage();
        }
      })();
      // Act
      const memory = watchMemory();
      const put = await store.putIfAbsent(key, body);
      const reader = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.read(key)) {
        reader.update(chunk);
        size += chunk.byteLength;
        if (size % (4 * MiB) < chunk.byteLength) collectGarbage();
      }
      const peakGrowth = memory.stop();
      // Assess
      expect(put).toEqual({ status: 'created' });
      expect(size).toBe(LARGE_OBJECT_BYTES);
      expect(reader.digest('hex')).toBe(writer.digest('hex'));
      expect((await store.head(key))?.size).toBe(LARGE_OBJECT_BYTES);
      // Holding the object would take 64 MB plus copies; streaming stays well below (S3 multipart keeps
      // a few parts in memory).
      expect(peakGrowth).toBeLessThan(LARGE_OBJECT_BYTES * 0.75);
    });
  });
}

/** Concatenates a stream of chunks. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return new Uint8Array(Buffer.concat(parts));
}

/** Every object under `prefix`, in the order the store lists them. */
export async function listAll(store: ObjectStore, prefix: string): Promise<ListedObject[]> {
  const infos: ListedObject[] = [];
  for await (const info of store.list(prefix)) infos.push(info);
  return infos;
}

async function* generate(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/**
 * A way to run the garbage collector from a test. Chunks already written are garbage, but V8 collects
 * them lazily; collecting every few MB makes resident memory show what is really held, not what is
 * waiting for collection.
 */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => gc() : () => undefined;
}
const collectGarbage = exposeGc();

/**
 * Samples resident memory every few milliseconds until stopped; returns the peak growth over the
 * start, in bytes. Coarse, but holding a 64 MB object whole would show plainly.
 */
export function watchMemory(): { stop(): number } {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return peak - start;
    },
  };
}
