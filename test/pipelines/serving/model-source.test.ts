/**
 * The champion model source on real onnxruntime sessions: first load, single-flight, the refresh
 * interval on an injected clock, swaps that never break a request in flight, and refusal of models
 * that fail verification.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { onnxFeeds } from '../../../pipelines/onnx/inputs.ts';
import { CHAMPION_KEY } from '../../../pipelines/registry/champion.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import {
  ChampionModelSource,
  FixedModelSource,
  type LoadedModel,
  ModelUnavailableError,
  servingThreads,
} from '../../../pipelines/serving/model-source.ts';
import { jsonBytes } from '../../../pipelines/storage/json.ts';
import { MemoryObjectStore } from '../../helpers/memory-store.ts';
import { fixtureModel, promoteModel, servingConfig, sha256Hex } from '../../helpers/serving-fixtures.ts';

const config = servingConfig('binary');
let gbdt: Uint8Array;
let linear: Uint8Array;
beforeAll(async () => {
  [gbdt, linear] = await Promise.all([fixtureModel('binary-gbdt'), fixtureModel('binary-linear')]);
});

function source(store: MemoryObjectStore, clock: { t: number }, log = new MemoryServingLog()) {
  return new ChampionModelSource({ store, config, log, refreshMs: 60_000, now: () => clock.t });
}

function score(model: LoadedModel) {
  return model.onnx.run(
    onnxFeeds(model.onnx.features, [{ age: 30, income: 900, city: 'lisbon', plan: 'pro' }]),
  );
}

describe('ChampionModelSource', () => {
  it('503s with no champion, and picks up a promotion at the next check', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const clock = { t: 0 };
    const models = source(store, clock);

    // Act / Assess
    await expect(models.acquire()).rejects.toThrow(ModelUnavailableError);
    await expect(models.acquire()).rejects.toThrow(/no model is deployed yet/);
    const seeded = await promoteModel(store, gbdt);
    await expect(models.acquire()).rejects.toThrow(/no model is deployed/); // not due yet
    clock.t += 60_000;
    const lease = await models.acquire();
    expect(lease.model).toMatchObject({
      version: seeded.version,
      sha256: sha256Hex(gbdt),
      source: seeded.key,
    });
    expect(lease.model.metrics?.primary.name).toBe('auc');
    expect([...(lease.model.knownCategories.get('plan') ?? [])].sort()).toEqual(['basic', 'plus', 'pro']);
    lease.release();
    await models.close();
  });

  it('loads once for many concurrent first requests, and reads the pointer at most once per interval', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    await promoteModel(store, gbdt);
    const clock = { t: 0 };
    const models = source(store, clock);
    store.resetCalls();

    // Act
    const leases = await Promise.all(Array.from({ length: 20 }, () => models.acquire()));
    for (const lease of leases) lease.release();
    for (let i = 0; i < 50; i += 1) (await models.acquire()).release();
    const afterLoad = store.calls.readBytes;
    clock.t += 59_999;
    (await models.acquire()).release();
    const beforeDue = store.calls.readBytes;
    clock.t += 1;
    (await models.acquire()).release();
    await models.settled();

    // Assess: pointer + model once; nothing until due; then the pointer alone (same model).
    expect(afterLoad).toBe(2);
    expect(beforeDue).toBe(2);
    expect(store.calls.readBytes).toBe(3);
    expect(new Set(leases.map((l) => l.model.onnx)).size).toBe(1);
    await models.close();
  });

  it('swaps without breaking a request in flight, and releases the old session only after it', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const log = new MemoryServingLog();
    const first = await promoteModel(store, gbdt);
    const clock = { t: 0 };
    const models = source(store, clock, log);
    const inFlight = await models.acquire();
    const second = await promoteModel(store, linear);

    // Act
    clock.t += 60_000;
    const during = await models.acquire(); // the check runs in the background: still the old model
    await models.settled();
    const after = await models.acquire();

    // Assess
    expect(during.model.version).toBe(first.version);
    expect(after.model.version).toBe(second.version);
    expect(after.model.sha256).toBe(sha256Hex(linear));
    await expect(score(inFlight.model)).resolves.toMatchObject({ kind: 'classes' });
    inFlight.release();
    await expect(score(during.model)).resolves.toMatchObject({ kind: 'classes' });
    during.release();
    // The last lease on the old model is back: its session is released.
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(score(during.model)).rejects.toThrow();
    await expect(score(after.model)).resolves.toMatchObject({ kind: 'classes' });
    after.release();
    expect(log.entries.filter((e) => e.message === 'serving model').map((e) => e.attributes.version)).toEqual(
      [first.version, second.version],
    );
    await models.close();
  });

  it('refuses a model whose bytes do not match the pointer, keeping the verified one', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const log = new MemoryServingLog();
    const good = await promoteModel(store, gbdt);
    const clock = { t: 0 };
    const models = source(store, clock, log);
    (await models.acquire()).release();

    // Act
    const bad = await promoteModel(store, linear, { claimedSha256: sha256Hex('something else') });
    clock.t += 60_000;
    (await models.acquire()).release();
    await models.settled();
    const lease = await models.acquire();

    // Assess
    expect(lease.model.version).toBe(good.version);
    lease.release();
    const failure = log.entries.find((e) => e.level === 'error');
    expect(failure?.message).toBe('cannot load the champion model; still serving the previous model');
    expect(failure?.attributes).toMatchObject({
      version: bad.version,
      integrity: true,
      servingVersion: good.version,
    });
    await models.close();
  });

  it('503s when the only model fails verification, or does not fit the config', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    await promoteModel(store, gbdt, { claimedSha256: sha256Hex('tampered') });
    const log = new MemoryServingLog();
    const models = source(store, { t: 0 }, log);
    const regression = new MemoryObjectStore();
    await promoteModel(regression, await fixtureModel('regression-linear'));

    // Act / Assess
    await expect(models.acquire()).rejects.toThrow(/failed verification/);
    expect(log.entries.at(-1)?.attributes.error).toMatch(
      /has sha256 [0-9a-f]{64}, but the champion pointer says/,
    );
    const mismatch = new ChampionModelSource({ store: regression, config, log, now: () => 0 });
    await expect(mismatch.acquire()).rejects.toThrow(/could not be loaded/);
    expect(log.entries.at(-1)?.attributes.error).toMatch(
      /is a regression model; the config's task is binary/,
    );
    await models.close();
    await mismatch.close();
  });

  it('keeps the loaded model when the pointer is removed or unreadable', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const log = new MemoryServingLog();
    const seeded = await promoteModel(store, gbdt);
    const clock = { t: 0 };
    const models = source(store, clock, log);
    (await models.acquire()).release();

    // Act
    store.poke(CHAMPION_KEY, '{"format":1');
    clock.t += 60_000;
    (await models.acquire()).release();
    await models.settled();

    // Assess
    const lease = await models.acquire();
    expect(lease.model.version).toBe(seeded.version);
    lease.release();
    expect(log.entries.at(-1)?.level).toBe('error');
    await models.close();
  });

  it('follows a rollback to the same bytes without reloading', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const seeded = await promoteModel(store, gbdt);
    const clock = { t: 0 };
    const models = source(store, clock);
    const before = await models.acquire();
    before.release();
    const pointer = JSON.parse(store.text(CHAMPION_KEY) ?? '{}');
    store.poke(
      CHAMPION_KEY,
      new TextDecoder().decode(jsonBytes({ ...pointer, version: seeded.version + 10 })),
    );

    // Act
    clock.t += 60_000;
    (await models.acquire()).release();
    await models.settled();
    const after = await models.acquire();

    // Assess
    expect(after.model.version).toBe(seeded.version + 10);
    expect(after.model.onnx).toBe(before.model.onnx);
    after.release();
    await models.close();
  });
});

describe('FixedModelSource', () => {
  it('serves one file and refuses a model for another config', async () => {
    const log = new MemoryServingLog();
    const models = await FixedModelSource.create(gbdt, '/m/model.onnx', config, log);
    const lease = await models.acquire();
    expect(lease.model).toMatchObject({ version: null, source: '/m/model.onnx', sha256: sha256Hex(gbdt) });
    lease.release();
    await models.close();
    await expect(models.acquire()).rejects.toThrow(ModelUnavailableError);
    const other = servingConfig('binary');
    const renamed = {
      ...other,
      features: other.features.map((f) => (f.name === 'city' ? { ...f, name: 'town' } : f)),
    };
    await expect(FixedModelSource.create(gbdt, 'm.onnx', renamed, log)).rejects.toThrow(
      /takes features \[age:numeric, income:numeric, city:categorical, plan:categorical\]; the config has \[age:numeric, income:numeric, town:categorical/,
    );
  });
});

describe('servingThreads', () => {
  it('gives onnxruntime the vCPUs a Lambda memory size buys, and 1 outside Lambda', () => {
    expect(servingThreads({})).toBe(1);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' })).toBe(1);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' })).toBe(1);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008' })).toBe(1);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3538' })).toBe(2);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '7076' })).toBe(4);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '10240' })).toBe(5);
    expect(servingThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 'lots' })).toBe(1);
  });
});
