/**
 * Splitting a CSV file in two at a record boundary, so that two threads can validate its halves at
 * once (see `validateWithStats` in `datasets/column-stats.ts`).
 *
 * The split is found from the bytes alone: the second part starts just after the first record
 * delimiter at or after the middle byte. That delimiter may be inside a quoted field, which only a
 * scan from the start can tell; so the pass over the first part continues to its first record end at
 * or after the split, and the second part's result counts only if that end is exactly the split
 * (`LeadingPass` in `table.ts`). The same bytes always give the same split, whatever the machine.
 *
 * What the second part finds is told back in its own terms — rows numbered from 1, lines from its
 * start — and renumbered here once the first part has said how many rows and lines come before it.
 */
import { open } from 'node:fs/promises';
import { CsvSyntaxError, type CsvSyntaxProblem, type RecordDelimiter } from './csv-scan.ts';

/** Bytes read at a time while looking for the split. */
const SEARCH_BYTES = 1 << 20;

/** The bytes of each record delimiter. */
const DELIMITER_BYTES: Readonly<Record<RecordDelimiter, Buffer>> = {
  lf: Buffer.from('\n'),
  crlf: Buffer.from('\r\n'),
  cr: Buffer.from('\r'),
};

/** The second part of a CSV file split in two: where it starts, and what the header says. */
export interface CsvSegment {
  /** The file's columns, as its header names them (trimmed). */
  readonly header: readonly string[];
  readonly delimiter: RecordDelimiter;
  /** The file offset of its first byte, just after a record delimiter. */
  readonly start: number;
}

/**
 * Where the second part of `file` starts: just after the first `delimiter` that begins at or after
 * the middle byte (and at or after `from`, the end of the header); undefined when no byte follows
 * such a delimiter (then the file is read in one part).
 */
export async function splitOffset(
  file: string,
  delimiter: RecordDelimiter,
  from: number,
): Promise<number | undefined> {
  const needle = DELIMITER_BYTES[delimiter];
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const chunk = Buffer.allocUnsafe(SEARCH_BYTES);
    // Each read starts where a delimiter may begin; consecutive reads overlap by the needle's length
    // less one, so a delimiter across two reads is found.
    for (let at = Math.max(from, Math.floor(size / 2)); at < size; at += SEARCH_BYTES - needle.length + 1) {
      const { bytesRead } = await handle.read(chunk, 0, SEARCH_BYTES, at);
      if (bytesRead === 0) return undefined;
      const found = chunk.subarray(0, bytesRead).indexOf(needle);
      if (found >= 0) {
        const start = at + found + needle.length;
        return start < size ? start : undefined;
      }
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/** A malformed record of the second part, as a worker thread can post it (see {@link CsvSyntaxError}). */
export interface SegmentSyntaxFailure {
  readonly problem: CsvSyntaxProblem;
  /** The line, counted from the part's start (line 1). */
  readonly line: number;
  readonly count: number;
  readonly text: string;
}

/** A scanner's error as the second part reports it; undefined for any other error. */
export function segmentFailureOf(error: unknown): SegmentSyntaxFailure | undefined {
  if (!(error instanceof CsvSyntaxError)) return undefined;
  return { problem: error.problem, line: error.line, count: error.count, text: error.text };
}

/** The error a pass over the whole file gives for the second part's failure, `lineBreaks` lines before it. */
export function syntaxErrorAfter(failure: SegmentSyntaxFailure, lineBreaks: number): CsvSyntaxError {
  return new CsvSyntaxError(failure.problem, failure.line + lineBreaks, failure.count, failure.text);
}
