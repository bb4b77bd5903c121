/**
 * The validator's fast path (plain predicates for valid requests) must give exactly zod's verdicts:
 * the same rows and ignored-field counts for valid bodies, the same errors for invalid ones.
 */
import { describe, expect, it } from 'vitest';
import { type FeatureRule, RequestValidator } from '../../../pipelines/serving/validation.ts';
import { createPrng } from '../../../pipelines/train/gbdt/prng.ts';

const FEATURES: readonly FeatureRule[] = [
  { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
  { name: 'income', type: 'numeric', nullable: false },
  { name: 'city', type: 'categorical', nullable: true },
  { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'pro', '1'] },
  { name: 'constructor', type: 'numeric', nullable: true },
];

const VALUES: readonly unknown[] = [
  0,
  -1,
  1.5,
  121,
  120,
  3.5e38,
  -3.5e38,
  1e-45,
  Number.MAX_SAFE_INTEGER,
  '',
  'x',
  'basic',
  'pro',
  '1',
  1,
  true,
  false,
  null,
  undefined,
  [],
  {},
  [1],
  { a: 1 },
  'x'.repeat(1025),
  'é',
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '12',
];

function outcome(validator: RequestValidator, body: unknown): unknown {
  try {
    const { rows, ignoredFields } = validator.instances(body);
    return { rows: rows.map((r) => ({ ...r })), ignoredFields };
  } catch (error) {
    return {
      error:
        error instanceof Error
          ? { message: error.message, details: (error as { details?: unknown }).details }
          : String(error),
    };
  }
}

describe('RequestValidator fast path', () => {
  it('agrees with zod alone on 20,000 random bodies', () => {
    const fast = new RequestValidator(FEATURES, 50);
    const slow = new RequestValidator(FEATURES, 50, { fastPath: false });
    const prng = createPrng(11);
    const pick = <T>(list: readonly T[]): T => list[prng.nextInt(list.length)] as T;
    let accepted = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const instances = Array.from({ length: 1 + prng.nextInt(3) }, () => {
        const instance: Record<string, unknown> = {};
        for (const f of FEATURES)
          if (prng.nextFloat() < 0.9)
            instance[f.name] =
              prng.nextFloat() < 0.6
                ? f.type === 'numeric'
                  ? prng.nextFloat() * 100
                  : pick(['basic', 'pro', 'x'])
                : pick(VALUES);
        if (prng.nextFloat() < 0.2) instance.extra = pick(VALUES);
        return prng.nextFloat() < 0.02 ? pick(VALUES) : instance;
      });
      const body = prng.nextFloat() < 0.02 ? pick(VALUES) : { instances };
      const expected = outcome(slow, body);
      expect(outcome(fast, body), JSON.stringify(body)).toEqual(expected);
      if (!('error' in (expected as object))) accepted += 1;
    }
    // Both verdicts occur often, so the comparison covers the fast path and the fall-back.
    expect(accepted).toBeGreaterThan(500);
    expect(accepted).toBeLessThan(18_000);
  });
});
