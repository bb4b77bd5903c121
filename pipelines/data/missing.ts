/**
 * Which cell values mean "missing". One list for every reader, so a value that `init` counted as
 * missing is missing for training and serving too.
 */
const MISSING_TOKENS: ReadonlySet<string> = new Set([
  '',
  'NA',
  'N/A',
  'NaN',
  'nan',
  'null',
  'NULL',
  'None',
  '?',
]);

/** True when a raw text cell stands for a missing value (after trimming spaces). */
export function isMissingCell(cell: string): boolean {
  return MISSING_TOKENS.has(cell.trim());
}

/**
 * Parses a numeric cell. Returns NaN for a missing cell and `undefined` when the text is not a
 * number at all (so callers can tell "missing" from "invalid").
 */
export function parseNumericCell(cell: string): number | undefined {
  const text = cell.trim();
  if (MISSING_TOKENS.has(text)) return Number.NaN;
  const value = Number(text);
  // Number('') is 0 and Number('0x1F') is 31: accept only plain decimal notation.
  if (!Number.isFinite(value) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return value;
}
