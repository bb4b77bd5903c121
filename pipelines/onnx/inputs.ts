/**
 * Raw rows (or value columns) → the input feeds of an exported model, one `[N, 1]` column per feature. Plain typed
 * arrays, no onnxruntime types: the serving code wraps each in a tensor of the given type.
 */
import { categoricalInput, numericInput, type RawRow, type RawValue, rawValue } from '../model/raw.ts';
import type { FeatureEncoding } from '../model/types.ts';

/** One graph input's data. */
export type OnnxFeed =
  | { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly [number, 1] }
  | { readonly type: 'string'; readonly data: string[]; readonly dims: readonly [number, 1] };

/**
 * A numeric feature's values as doubles, NaN where missing (absent or null): instance `i`'s at `i`.
 * The array may be longer than the instances are many (the serving reader sizes it before it knows
 * their count); what follows the last instance's value means nothing.
 */
export interface DoubleColumn {
  readonly doubles: Float64Array;
}

/**
 * One feature's raw values, one per instance: as rows hold them (`undefined` = absent), or, for a
 * numeric feature, as doubles ({@link DoubleColumn}).
 */
export type ValueColumn = readonly RawValue[] | DoubleColumn;

/** Value columns by feature name. */
export type ValueColumns = ReadonlyMap<string, ValueColumn>;

/** The raw value of instance `i` in a column (`null` for a NaN double: missing). */
export function columnValue(column: ValueColumn | undefined, i: number): RawValue {
  if (column === undefined || Array.isArray(column)) return (column as readonly RawValue[] | undefined)?.[i];
  const value = (column as DoubleColumn).doubles[i] as number;
  return Number.isNaN(value) ? null : value;
}

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
  const columns = new Map(
    features.map((feature) => [feature.name, rows.map((row) => rawValue(row, feature.name))]),
  );
  return columnsFeeds(features, columns, rows.length);
}

/**
 * The feeds for `n` instances given as value columns ({@link onnxFeeds} without the rows); a feature
 * with no column is missing in every instance.
 *
 * @throws InputError when a numeric feature holds a non-number.
 */
export function columnsFeeds(
  features: readonly Pick<FeatureEncoding, 'name' | 'type'>[],
  columns: ValueColumns,
  n: number,
): Record<string, OnnxFeed> {
  // No prototype: a feature named "__proto__" is a key like any other.
  const feeds = Object.create(null) as Record<string, OnnxFeed>;
  for (const feature of features) {
    const values = columns.get(feature.name);
    if (feature.type === 'numeric') {
      const data = new Float32Array(n);
      if (values !== undefined && !Array.isArray(values)) {
        // Doubles are rounded to float32 by the store, as numericInput does (NaN stays NaN: missing).
        const doubles = (values as DoubleColumn).doubles;
        for (let i = 0; i < n; i++) data[i] = doubles[i] ?? Number.NaN;
      } else {
        const raw = values as readonly RawValue[] | undefined;
        for (let i = 0; i < n; i++) data[i] = numericInput(raw?.[i], feature.name, i);
      }
      feeds[feature.name] = { type: 'float32', data, dims: [n, 1] };
    } else {
      const data = new Array<string>(n);
      for (let i = 0; i < n; i++) data[i] = categoricalInput(columnValue(values, i));
      feeds[feature.name] = { type: 'string', data, dims: [n, 1] };
    }
  }
  return feeds;
}
