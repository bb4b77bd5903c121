/**
 * Raw feature values as a caller sends them (a JSON request, a scored file), and the one place that
 * decides how each becomes a model input. The ONNX input feeds (`pipelines/onnx/inputs.ts`) and the
 * JS reference predictor (`predict.ts`) both go through these functions, so the graph and the
 * reference can never disagree on what "missing" means.
 *
 * - numeric: a number (converted to float32, the precision of the graph input); `null`, `undefined`
 *   or NaN is missing.
 * - categorical: a string; a number or boolean is taken as its `String()` form (a JSON request may send
 *   `"zip": 12345`); `null`, `undefined` or the empty string is missing. On the wire a missing
 *   categorical is the empty string {@link MISSING_CATEGORY}, which the graph maps to NaN (trees) or
 *   to all-zero indicators (linear) — so `""` can never be a real category.
 */
import { InputError } from '../errors.ts';

/** One raw feature value. */
export type RawValue = number | string | boolean | null | undefined;

/** One row to score: feature name → raw value; absent features are missing. */
export type RawRow = Readonly<Record<string, RawValue>>;

/** How a missing categorical value travels in the graph's string input. */
export const MISSING_CATEGORY = '';

/** The value of `feature` in `row`; only own properties count (a feature may be called `constructor`). */
export function rawValue(row: RawRow, feature: string): RawValue {
  return Object.hasOwn(row, feature) ? row[feature] : undefined;
}

/**
 * The float32 value of a numeric feature; NaN when missing.
 *
 * @throws InputError when the value is not a number (validation at the edge should have caught it).
 */
export function numericInput(value: RawValue, feature: string, row: number): number {
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value !== 'number') {
    throw new InputError(
      `row ${row}: feature "${feature}" is numeric but received ${JSON.stringify(value)}`,
      {
        details: [
          { path: `[${row}].${feature}`, message: `expected a number or null, received ${typeof value}` },
        ],
      },
    );
  }
  return Math.fround(value);
}

/** The string fed to a categorical input; {@link MISSING_CATEGORY} when missing. */
export function categoricalInput(value: RawValue): string {
  if (value === null || value === undefined) return MISSING_CATEGORY;
  return typeof value === 'string' ? value : String(value);
}

/**
 * Throws unless `categories` can be served: `""` is reserved for a missing value (see the module doc)
 * and a category listed twice would make the lookup ambiguous.
 */
export function checkCategories(feature: string, categories: readonly string[]): void {
  const seen = new Set<string>();
  for (const category of categories) {
    if (category === MISSING_CATEGORY) {
      throw new InputError(`feature "${feature}" has the empty string as a category`, {
        hint: 'the empty string stands for a missing value; map it to null before training',
      });
    }
    if (seen.has(category)) {
      throw new InputError(`feature "${feature}" lists category ${JSON.stringify(category)} twice`);
    }
    seen.add(category);
  }
}
