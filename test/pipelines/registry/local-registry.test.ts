import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../pipelines/errors.ts';
import { CHAMPION_KEY, MAX_PREVIOUS_CHAMPIONS } from '../../../pipelines/registry/champion.ts';
import { localRegistry, PAGE_SIZE, pageKey, versionKey } from '../../../pipelines/registry/local-registry.ts';
import type { ModelVersion } from '../../../pipelines/registry/registry.ts';
import { jsonBytes } from '../../../pipelines/storage/json.ts';
import { MemoryObjectStore } from '../../helpers/memory-store.ts';
import { describeRegistryContract } from '../../helpers/registry-contract.ts';
import { registration, seedPages, steppingClock, storedVersion } from '../../helpers/registry-fixtures.ts';

describeRegistryContract('the in-memory object store', async () => new MemoryObjectStore());

describe('local registry layout', () => {
  it('claims each version file once and keeps it as registered; status lives in the page', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const registry = localRegistry(store, { now: steppingClock() });
    await registry.register(registration(1));

    // Act
    await registry.setStatus(1, 'Approved', 'ok');
    await registry.promote(1, 'ship it');

    // Assess
    const file = JSON.parse(store.text(versionKey(1)) ?? '{}');
    expect(file).toMatchObject({ version: 1, runId: 'run-0001', status: 'PendingManualApproval' });
    const page = JSON.parse(store.text(pageKey(1)) ?? '{}');
    expect(page).toMatchObject({
      format: 1,
      page: 1,
      size: PAGE_SIZE,
      versions: [{ version: 1, status: 'Approved', statusReason: 'ok' }],
    });
    expect(JSON.parse(store.text(CHAMPION_KEY) ?? '{}')).toMatchObject({
      format: 1,
      version: 1,
      previous: [],
    });
  });

  it('spreads versions over pages of 100 and finds them on either side of a boundary', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const registry = localRegistry(store);

    // Act
    for (let n = 1; n <= PAGE_SIZE + 5; n += 1) await registry.register(registration(n));
    await registry.setStatus(PAGE_SIZE, 'Approved', 'last of page 1');
    await registry.setStatus(PAGE_SIZE + 1, 'Rejected', 'first of page 2');

    // Assess
    expect(JSON.parse(store.text(pageKey(1)) ?? '{}').versions).toHaveLength(PAGE_SIZE);
    expect(JSON.parse(store.text(pageKey(2)) ?? '{}').versions).toHaveLength(5);
    expect(await registry.get(PAGE_SIZE)).toMatchObject({ status: 'Approved', runId: 'run-0100' });
    expect(await registry.get(PAGE_SIZE + 1)).toMatchObject({ status: 'Rejected', runId: 'run-0101' });
    const listed = await registry.list();
    expect(listed.map((v) => v.version)).toEqual(
      Array.from({ length: PAGE_SIZE + 5 }, (_, i) => PAGE_SIZE + 5 - i),
    );
  });

  it('lists 1,000 versions from 10 pages, well under half a second', async () => {
    // Prepare: pages as 1,000 registrations would have left them.
    const store = new MemoryObjectStore();
    await seedPages(store, 1000);
    const registry = localRegistry(store);
    store.resetCalls();

    // Act
    const started = performance.now();
    const listed = await registry.list();
    const elapsed = performance.now() - started;

    // Assess: 10 pages, then page 11 and version 1001 found absent.
    expect(listed).toHaveLength(1000);
    expect(listed[0]?.version).toBe(1000);
    expect(listed[999]?.version).toBe(1);
    expect(store.calls.readBytes).toBe(12);
    expect(store.calls.read + store.calls.list + store.calls.head).toBe(0);
    expect(elapsed).toBeLessThan(500);
  });

  it('reads one page to get a version', async () => {
    const store = new MemoryObjectStore();
    await seedPages(store, 1000);
    const registry = localRegistry(store);
    store.resetCalls();

    expect(await registry.get(777)).toEqual(storedVersion(777));
    expect(store.calls.readBytes).toBe(1);
  });

  it('finds a version whose writer died before it reached its page, and stores it on the next change', async () => {
    // Prepare: version 2 claimed, page still at 1 (a crash between the two writes).
    const store = new MemoryObjectStore();
    const registry = localRegistry(store, { now: steppingClock() });
    await registry.register(registration(1));
    store.poke(versionKey(2), JSON.stringify(storedVersion(2)));

    // Act + Assess: readers see it, the next registration numbers after it and repairs the page.
    expect((await registry.list()).map((v) => v.version)).toEqual([2, 1]);
    expect(await registry.get(2)).toMatchObject({ runId: 'run-0002' });
    expect((await registry.register(registration(3))).version).toBe(3);
    const page = JSON.parse(store.text(pageKey(1)) ?? '{}') as { versions: ModelVersion[] };
    expect(page.versions.map((v) => v.version)).toEqual([1, 2, 3]);
  });

  it('fills a page left short by a crash even when the next page exists', async () => {
    // Prepare: page 1 stops at 99, version 100 only as a file, version 101 in page 2.
    const store = new MemoryObjectStore();
    await seedPages(store, 101);
    store.poke(
      pageKey(1),
      JSON.stringify({
        format: 1,
        page: 1,
        size: PAGE_SIZE,
        versions: Array.from({ length: 99 }, (_, i) => storedVersion(i + 1)),
      }),
    );
    store.poke(versionKey(100), JSON.stringify(storedVersion(100)));
    const registry = localRegistry(store);

    // Act + Assess
    const listed = await registry.list();
    expect(listed.map((v) => v.version)).toEqual(Array.from({ length: 101 }, (_, i) => 101 - i));
    await registry.setStatus(100, 'Rejected', 'late decision');
    expect(JSON.parse(store.text(pageKey(1)) ?? '{}').versions).toHaveLength(PAGE_SIZE);
    expect(await registry.get(100)).toMatchObject({ status: 'Rejected' });
  });

  it('refuses a page it did not write', async () => {
    const store = new MemoryObjectStore();
    const registry = localRegistry(store);
    store.poke(
      pageKey(1),
      JSON.stringify({ format: 1, page: 1, size: PAGE_SIZE, versions: [{ version: 7 }] }),
    );
    await expect(registry.list()).rejects.toThrow(IntegrityError);
    await expect(registry.list()).rejects.toThrow(
      `${pageKey(1)} in memory://test is not what the registry wrote`,
    );
  });

  it('refuses a champion pointer it did not write', async () => {
    const store = new MemoryObjectStore();
    const registry = localRegistry(store);
    store.poke(CHAMPION_KEY, JSON.stringify({ version: 'latest' }));
    await expect(registry.champion()).rejects.toThrow(IntegrityError);
  });

  it('remembers the last 100 champions, so the pointer stays a small ref', async () => {
    // Prepare: a pointer with a full history, written as the registry writes it.
    const store = new MemoryObjectStore();
    await seedPages(store, MAX_PREVIOUS_CHAMPIONS + 2);
    const previous = Array.from({ length: MAX_PREVIOUS_CHAMPIONS }, (_, i) => ({
      version: MAX_PREVIOUS_CHAMPIONS - i,
      since: '2026-01-01T00:00:00.000Z',
      reason: 'x'.repeat(1024),
    }));
    const pointer = {
      format: 1,
      version: MAX_PREVIOUS_CHAMPIONS + 1,
      since: '2026-01-02T00:00:00.000Z',
      reason: 'r',
      model: {
        key: 'runs/r101/model.onnx',
        sha256: 'b'.repeat(64),
        runId: 'r101',
        datasetVersion: 'a'.repeat(64),
        metrics: { primary: { name: 'auc', value: 0.9 }, holdout: { auc: 0.9 } },
        createdAt: '2026-01-02T00:00:00.000Z',
      },
      previous,
    };
    await store.putIfMatch(CHAMPION_KEY, jsonBytes(pointer), null);
    const registry = localRegistry(store);

    // Act
    const champion = await registry.promote(MAX_PREVIOUS_CHAMPIONS + 2, 'next');

    // Assess: the newest 100 kept, the oldest dropped.
    expect(champion.previous).toHaveLength(MAX_PREVIOUS_CHAMPIONS);
    expect(champion.previous[0]?.version).toBe(MAX_PREVIOUS_CHAMPIONS + 1);
    expect(champion.previous.at(-1)?.version).toBe(2);
  });
});
