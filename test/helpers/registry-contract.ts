/**
 * The behaviour every object-store-backed model registry must show, as one suite run against each
 * store (in memory, and the filesystem adapter when present): numbering, lineage, approval, champion,
 * rollback and the concurrency guarantees.
 */
import { describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../pipelines/errors.ts';
import { localRegistry } from '../../pipelines/registry/local-registry.ts';
import type { ModelRegistry } from '../../pipelines/registry/registry.ts';
import type { ObjectStore } from '../../pipelines/storage/object-store.ts';
import { registration, sha256, steppingClock } from './registry-fixtures.ts';

/** Registers runs `1..count` one after the other. */
async function registerRuns(registry: ModelRegistry, count: number, first = 1): Promise<void> {
  for (let n = first; n < first + count; n += 1) await registry.register(registration(n));
}

/** Registers runs `1..count` and approves each. */
async function approvedRuns(registry: ModelRegistry, count: number): Promise<void> {
  await registerRuns(registry, count);
  for (let v = 1; v <= count; v += 1) await registry.setStatus(v, 'Approved', 'looks good');
}

/** Runs the registry contract against stores made by `makeStore` (a fresh, empty store per call). */
export function describeRegistryContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  async function fresh(): Promise<ModelRegistry> {
    return localRegistry(await makeStore(), { now: steppingClock() });
  }

  describe(`model registry on ${name}`, () => {
    describe('versions', () => {
      it('numbers versions 1, 2, 3 and keeps the lineage of each', async () => {
        // Prepare
        const registry = await fresh();

        // Act
        const first = await registry.register(registration(1));
        const second = await registry.register(registration(2, { description: 'more trees' }));

        // Assess
        expect(first).toEqual({
          version: 1,
          runId: 'run-0001',
          datasetVersion: sha256('dataset for run-0001'),
          modelSha256: sha256('model of run-0001'),
          modelKey: 'runs/run-0001/model.onnx',
          metrics: {
            primary: { name: 'auc', value: 0.8001 },
            holdout: { auc: 0.8001, accuracy: 0.75, log_loss: 0.41 },
          },
          status: 'PendingManualApproval',
          statusReason: '',
          createdAt: '2026-01-01T00:00:00.000Z',
          updatedAt: '2026-01-01T00:00:00.000Z',
        });
        expect(second).toMatchObject({ version: 2, runId: 'run-0002', description: 'more trees' });
        expect(await registry.get(1)).toEqual(first);
        expect(await registry.get(2)).toEqual(second);
      });

      it('registers as approved when the promotion gate already decided', async () => {
        const registry = await fresh();
        const version = await registry.register(
          registration(1, { status: 'Approved', statusReason: 'auto-approved: auc 0.80 >= 0.75' }),
        );
        expect(version).toMatchObject({
          status: 'Approved',
          statusReason: 'auto-approved: auc 0.80 >= 0.75',
        });
      });

      it('returns the existing version when the same run and model are registered again', async () => {
        const registry = await fresh();
        const first = await registry.register(registration(1));
        const again = await registry.register(registration(1));
        expect(again).toEqual(first);
        expect(await registry.list()).toHaveLength(1);
      });

      it('lists newest first, optionally only the newest few', async () => {
        const registry = await fresh();
        await registerRuns(registry, 4);
        expect((await registry.list()).map((v) => v.version)).toEqual([4, 3, 2, 1]);
        expect((await registry.list({ limit: 2 })).map((v) => v.version)).toEqual([4, 3]);
        await expect(registry.list({ limit: 0 })).rejects.toThrow(InputError);
      });

      it('lists nothing in an empty registry', async () => {
        const registry = await fresh();
        expect(await registry.list()).toEqual([]);
        expect(await registry.champion()).toBeUndefined();
      });

      it('records status decisions with their reason and time', async () => {
        const registry = await fresh();
        await registerRuns(registry, 2);

        const approved = await registry.setStatus(1, 'Approved', 'reviewed by ops');
        const rejected = await registry.setStatus(2, 'Rejected', 'calibration is off');

        expect(approved).toMatchObject({ version: 1, status: 'Approved', statusReason: 'reviewed by ops' });
        expect(approved.updatedAt > approved.createdAt).toBe(true);
        expect(rejected).toMatchObject({
          version: 2,
          status: 'Rejected',
          statusReason: 'calibration is off',
        });
        expect(await registry.get(1)).toEqual(approved);
        expect((await registry.list()).map((v) => v.status)).toEqual(['Rejected', 'Approved']);
      });

      it('refuses unknown versions with NotFoundError', async () => {
        const registry = await fresh();
        await registerRuns(registry, 1);
        await expect(registry.get(2)).rejects.toThrow(NotFoundError);
        await expect(registry.get(2)).rejects.toThrow(/there is no model version 2/);
        await expect(registry.get(0)).rejects.toThrow(NotFoundError);
        await expect(registry.get(1.5)).rejects.toThrow(NotFoundError);
        await expect(registry.setStatus(7, 'Approved', 'x')).rejects.toThrow(NotFoundError);
        await expect(registry.promote(7, 'x')).rejects.toThrow(NotFoundError);
      });

      it('refuses a registration without proper lineage, naming every field', async () => {
        const registry = await fresh();
        const attempt = registry.register(
          registration(1, {
            datasetVersion: 'latest',
            modelSha256: 'ABC',
            metrics: { primary: { name: 'auc', value: Number.NaN }, holdout: {} },
          }),
        );
        await expect(attempt).rejects.toThrow(InputError);
        await expect(attempt).rejects.toMatchObject({
          details: [
            { path: 'datasetVersion', message: expect.stringMatching(/sha256/) },
            { path: 'modelSha256', message: expect.stringMatching(/sha256/) },
            { path: 'metrics.primary.value', message: 'expected a finite number, got NaN' },
          ],
        });
        expect(await registry.list()).toEqual([]);
      });

      it('refuses an unknown status', async () => {
        const registry = await fresh();
        await registerRuns(registry, 1);
        // @ts-expect-error: a status from untyped input (CLI, JSON)
        await expect(registry.setStatus(1, 'Staging', 'x')).rejects.toThrow(/unknown model status "Staging"/);
      });
    });

    describe('champion', () => {
      it('promotes an approved version', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 1);

        const champion = await registry.promote(1, 'first model');

        const [registered] = await registry.list();
        expect(champion).toEqual({
          version: 1,
          since: expect.any(String),
          reason: 'first model',
          model: {
            key: registered?.modelKey,
            sha256: registered?.modelSha256,
            runId: registered?.runId,
            datasetVersion: registered?.datasetVersion,
            metrics: registered?.metrics,
            createdAt: registered?.createdAt,
          },
          previous: [],
        });
        expect(await registry.champion()).toEqual(champion);
      });

      it('approves a pending version when promoting it', async () => {
        const registry = await fresh();
        await registerRuns(registry, 1);

        await registry.promote(1, 'manual review passed');

        expect(await registry.get(1)).toMatchObject({
          status: 'Approved',
          statusReason: 'approved by promotion: manual review passed',
        });
        expect((await registry.champion())?.version).toBe(1);
      });

      it('never promotes a rejected version', async () => {
        const registry = await fresh();
        await registerRuns(registry, 1);
        await registry.setStatus(1, 'Rejected', 'leaks the label');

        const attempt = registry.promote(1, 'try anyway');

        await expect(attempt).rejects.toThrow(ConflictError);
        await expect(attempt).rejects.toThrow(
          'version 1 was rejected (leaks the label); a rejected version cannot become champion',
        );
        expect(await registry.champion()).toBeUndefined();
      });

      it('keeps previous champions, most recent first, and rolls back through them', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 3);
        await registry.promote(1, 'v1');
        await registry.promote(2, 'v2');
        const third = await registry.promote(3, 'v3');
        expect(third.previous.map((t) => [t.version, t.reason])).toEqual([
          [2, 'v2'],
          [1, 'v1'],
        ]);

        const back = await registry.rollback('v3 misbehaves');
        expect(back).toMatchObject({ version: 2, reason: 'v3 misbehaves' });
        expect(back.previous.map((t) => t.version)).toEqual([1]);

        const further = await registry.rollback('v2 too');
        expect(further).toMatchObject({ version: 1, previous: [] });

        await expect(registry.rollback('again')).rejects.toThrow(ConflictError);
        await expect(registry.rollback('again')).rejects.toThrow(/no previous champion/);
      });

      it('refuses a rollback before anything was promoted', async () => {
        const registry = await fresh();
        await expect(registry.rollback('panic')).rejects.toThrow(ConflictError);
        await expect(registry.rollback('panic')).rejects.toThrow(
          'no previous champion: no version has been promoted yet',
        );
      });

      it('does not roll back to an earlier champion that was rejected since', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 3);
        await registry.promote(1, 'v1');
        await registry.promote(2, 'v2');
        await registry.promote(3, 'v3');
        await registry.setStatus(2, 'Rejected', 'found a bug in v2');

        expect(await registry.rollback('v3 misbehaves')).toMatchObject({ version: 1, previous: [] });
      });

      it('says why when every earlier champion was rejected', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 2);
        await registry.promote(1, 'v1');
        await registry.promote(2, 'v2');
        await registry.setStatus(1, 'Rejected', 'bad');

        await expect(registry.rollback('x')).rejects.toThrow(
          'no previous champion: the earlier champions (1) are no longer approved',
        );
        expect((await registry.champion())?.version).toBe(2);
      });

      it('changes nothing when the champion is promoted again', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 1);
        const first = await registry.promote(1, 'v1');
        expect(await registry.promote(1, 'retry')).toEqual(first);
      });

      it('keeps each version once in the history when an earlier champion returns', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 2);
        await registry.promote(1, 'a');
        await registry.promote(2, 'b');
        const back = await registry.promote(1, 'c');
        expect([back.version, ...back.previous.map((t) => t.version)]).toEqual([1, 2]);
      });

      it('will not reject or unapprove the serving champion', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 2);
        await registry.promote(1, 'v1');

        await expect(registry.setStatus(1, 'Rejected', 'oops')).rejects.toThrow(ConflictError);
        await expect(registry.setStatus(1, 'PendingManualApproval', 'oops')).rejects.toThrow(
          /version 1 is the champion being served/,
        );
        await expect(registry.setStatus(1, 'Approved', 'still fine')).resolves.toMatchObject({
          statusReason: 'still fine',
        });
        await expect(registry.setStatus(2, 'Rejected', 'not serving')).resolves.toMatchObject({
          status: 'Rejected',
        });
      });

      it('leads from the champion to the run, the dataset bytes and the model bytes', async () => {
        // Prepare: a model file in the store, registered with its hash.
        const store = await makeStore();
        const registry = localRegistry(store);
        const modelBytes = new TextEncoder().encode('pretend this is an ONNX graph');
        await store.putIfAbsent('runs/run-0001/model.onnx', modelBytes);
        await registry.register(registration(1, { modelSha256: sha256(modelBytes) }));
        await registry.promote(1, 'go');

        // Act
        const champion = await registry.champion();
        const served = await registry.get(champion?.version ?? 0);
        const stored = await store.readBytes(served.modelKey);

        // Assess
        expect(served.runId).toBe('run-0001');
        expect(served.datasetVersion).toBe(sha256('dataset for run-0001'));
        expect(sha256(stored?.bytes ?? new Uint8Array())).toBe(served.modelSha256);
      });
    });

    describe('concurrency', () => {
      it('gives concurrent registrations distinct consecutive numbers and loses none', async () => {
        const registry = await fresh();
        const count = 40;

        const versions = await Promise.all(
          Array.from({ length: count }, (_, i) => registry.register(registration(i + 1))),
        );

        expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(
          Array.from({ length: count }, (_, i) => i + 1),
        );
        const listed = await registry.list();
        expect(listed.map((v) => v.version)).toEqual(Array.from({ length: count }, (_, i) => count - i));
        for (const v of versions) expect(await registry.get(v.version)).toEqual(v);
      });

      it('loses no status change made concurrently', async () => {
        const registry = await fresh();
        await registerRuns(registry, 12);

        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            registry.setStatus(i + 1, i % 2 === 0 ? 'Approved' : 'Rejected', `decision ${i + 1}`),
          ),
        );

        const listed = (await registry.list()).reverse();
        expect(listed.map((v) => [v.status, v.statusReason])).toEqual(
          Array.from({ length: 12 }, (_, i) => [i % 2 === 0 ? 'Approved' : 'Rejected', `decision ${i + 1}`]),
        );
      });

      it('keeps every champion in the history when promotions race', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 10);
        await registry.promote(1, 'start');

        await Promise.all(Array.from({ length: 9 }, (_, i) => registry.promote(i + 2, `race ${i + 2}`)));

        const champion = await registry.champion();
        const all = [champion?.version, ...(champion?.previous ?? []).map((t) => t.version)];
        expect(all.sort((a = 0, b = 0) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(champion?.previous.at(-1)?.version).toBe(1);
      });

      it('applies every one of several concurrent rollbacks exactly once', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 5);
        for (let v = 1; v <= 5; v += 1) await registry.promote(v, `v${v}`);

        await Promise.all([registry.rollback('a'), registry.rollback('b'), registry.rollback('c')]);

        const champion = await registry.champion();
        expect(champion?.version).toBe(2);
        expect(champion?.previous.map((t) => t.version)).toEqual([1]);
      });

      it('serialises a promotion racing a rollback', async () => {
        const registry = await fresh();
        await approvedRuns(registry, 3);
        await registry.promote(1, 'v1');
        await registry.promote(2, 'v2');

        await Promise.all([registry.promote(3, 'v3'), registry.rollback('back')]);

        // promote then rollback → 2 over [1]; rollback then promote → 3 over [1]. Nothing else.
        const champion = await registry.champion();
        const shape = [champion?.version, champion?.previous.map((t) => t.version)];
        expect([
          [2, [1]],
          [3, [1]],
        ]).toContainEqual(shape);
      });
    });
  });
}
