/** Registrations for model registry tests: distinct runs with real-looking lineage. */
import { createHash } from 'node:crypto';
import { PAGE_SIZE, pageKey } from '../../pipelines/registry/local-registry.ts';
import type { ModelVersion, RegisterInput } from '../../pipelines/registry/registry.ts';
import { jsonBytes } from '../../pipelines/storage/json.ts';
import type { ObjectStore } from '../../pipelines/storage/object-store.ts';

/** The sha256 of a string, hex. */
export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The registration of training run number `n` (run ids and hashes differ per `n`). */
export function registration(n: number, overrides: Partial<RegisterInput> = {}): RegisterInput {
  const runId = `run-${String(n).padStart(4, '0')}`;
  return {
    runId,
    datasetVersion: sha256(`dataset for ${runId}`),
    modelSha256: sha256(`model of ${runId}`),
    modelKey: `runs/${runId}/model.onnx`,
    metrics: {
      primary: { name: 'auc', value: 0.8 + n / 10_000 },
      holdout: { auc: 0.8 + n / 10_000, accuracy: 0.75, log_loss: 0.41 },
    },
    ...overrides,
  };
}

/** A clock that advances one second per call, from 2026-01-01T00:00:00Z. */
export function steppingClock(start = Date.parse('2026-01-01T00:00:00Z')): () => Date {
  let calls = 0;
  return () => new Date(start + 1000 * calls++);
}

/** Version `n` of run `n` as the local registry stores it once approved. */
export function storedVersion(n: number): ModelVersion {
  const input = registration(n);
  return {
    version: n,
    runId: input.runId,
    datasetVersion: input.datasetVersion,
    modelSha256: input.modelSha256,
    modelKey: input.modelKey,
    metrics: input.metrics,
    status: 'Approved',
    statusReason: 'seeded',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

/**
 * Writes the pages a local registry of `count` versions would have (not the version files: reads of
 * a complete registry never need them), much faster than registering them one by one.
 */
export async function seedPages(store: ObjectStore, count: number): Promise<void> {
  for (let page = 1; (page - 1) * PAGE_SIZE < count; page += 1) {
    const first = (page - 1) * PAGE_SIZE + 1;
    const versions = Array.from({ length: Math.min(PAGE_SIZE, count - first + 1) }, (_, i) =>
      storedVersion(first + i),
    );
    await store.putIfMatch(pageKey(page), jsonBytes({ format: 1, page, size: PAGE_SIZE, versions }), null);
  }
}
