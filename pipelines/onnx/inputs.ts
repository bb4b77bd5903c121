/**
 * Raw rows → the input feeds of an exported model, one `[N, 1]` column per feature. Plain typed
 * arrays, no onnxruntime types: the serving code wraps each in a tensor of the given type.
 */
import { categoricalInput, numericInput, type RawRow, rawValue } from '../model/raw.ts';
import type { FeatureEncoding } from '../model/types.ts';

/** One graph input's data. */
export type OnnxFeed =
  | { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly [number, 1] }
  | { readonly type: 'string'; readonly data: string[]; readonly dims: readonly [number, 1] };

/**
 * The feeds for `rows`, keyed by feature (input) name. Missing numeric → NaN; missing categorical →
 * `""`; see `pipelines/model/raw.ts` for the exact rules.
 *
 * @throws InputError when a numeric feature holds a non-number.
 */
export function onnxFeeds(
  features: readonly Pick<FeatureEncoding, 'name' | 'type'>[],
  rows: readonly RawRow[],
): Record<string, OnnxFeed> {
  const n = rows.length;
  const feeds: Record<string, OnnxFeed> = {};
  for (const feature of features) {
    if (feature.type === 'numeric') {
      const data = new Float32Array(n);
      rows.forEach((row, i) => {
        data[i] = numericInput(rawValue(row, feature.name), feature.name, i);
      });
      feeds[feature.name] = { type: 'float32', data, dims: [n, 1] };
    } else {
      feeds[feature.name] = {
        type: 'string',
        data: rows.map((row) => categoricalInput(rawValue(row, feature.name))),
        dims: [n, 1],
      };
    }
  }
  return feeds;
}
