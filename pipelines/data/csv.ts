/**
 * Streaming CSV reading on csv-parse: the header is checked once (empty file, duplicate or blank
 * column names, a file that is not comma-separated), then rows are yielded one at a time with their
 * line number, so memory stays flat whatever the file size.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse';
import { InputError } from '../errors.ts';

/** One data row: its cells in header order and the 1-based row number (header excluded). */
export interface CsvRow {
  readonly cells: readonly string[];
  readonly row: number;
}

/** An opened CSV file: the header, and an iterator over the rows that follow it. */
export interface CsvFile {
  readonly header: readonly string[];
  readonly rows: AsyncIterable<CsvRow>;
}

const OTHER_DELIMITERS = [';', '\t', '|'] as const;

function checkHeader(file: string, header: readonly string[]): void {
  if (header.length === 1) {
    const only = header[0] ?? '';
    const found = OTHER_DELIMITERS.find((d) => only.includes(d));
    if (found !== undefined) {
      const name = found === '\t' ? 'tab' : found === ';' ? 'semicolon' : 'pipe';
      throw new InputError(
        `${file}: the header is a single column "${only}": the file looks ${name}-separated`,
        {
          hint: 'Driftline reads comma-separated files; convert the file to commas',
        },
      );
    }
  }
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (name.trim() === '') {
      throw new InputError(`${file}: column ${i + 1} of the header has no name`, {
        hint: 'Give every column a name in the first line of the file.',
      });
    }
    const first = seen.get(name);
    if (first !== undefined) {
      throw new InputError(
        `${file}: duplicate column "${name}" in the header (columns ${first + 1} and ${i + 1})`,
        {
          hint: 'Rename one of the columns so that every column name is unique.',
        },
      );
    }
    seen.set(name, i);
  });
}

function toInputError(file: string, error: unknown, header: readonly string[]): unknown {
  if (!(error instanceof CsvError)) return error;
  const lines = (error as CsvError & { lines?: number }).lines;
  const at = lines === undefined ? '' : ` at line ${lines}`;
  switch (error.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const record = (error as CsvError & { record?: unknown[] }).record;
      const count = Array.isArray(record) ? record.length : 'a different number of';
      return new InputError(`${file}${at}: the row has ${count} fields but the header has ${header.length}`, {
        hint: 'Every row must have one value per header column; quote values that contain commas.',
        cause: error,
      });
    }
    case 'CSV_QUOTE_NOT_CLOSED':
    case 'CSV_INVALID_CLOSING_QUOTE':
      return new InputError(`${file}${at}: a quoted value is not closed properly`, {
        hint: 'Check the quotes on that line; a quote inside a value must be doubled ("").',
        cause: error,
      });
    default:
      return new InputError(`${file}${at}: ${error.message}`, { cause: error });
  }
}

/**
 * Open a CSV file with a header line.
 * @throws NotFoundError when the file does not exist; InputError when it is empty or its header is bad
 */
export async function openCsv(file: string): Promise<CsvFile> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`${file} is not a file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no such file: ${file}`, { hint: 'check the path to the data file' });
    }
    throw error;
  }
  const parser = createReadStream(file).pipe(
    parse({ bom: true, skip_empty_lines: true, relax_column_count: false, info: false }),
  );
  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  let header: string[] = [];
  try {
    const first = await iterator.next();
    if (first.done === true) {
      throw new InputError(`${file} is empty`, {
        hint: 'The file needs a header line and at least one row.',
      });
    }
    header = first.value.map((name) => name.trim());
    checkHeader(file, header);
  } catch (error) {
    parser.destroy();
    throw toInputError(file, error, header);
  }
  async function* rows(): AsyncGenerator<CsvRow> {
    let row = 0;
    try {
      while (true) {
        const next = await iterator.next();
        if (next.done === true) return;
        row += 1;
        yield { cells: next.value, row };
      }
    } catch (error) {
      throw toInputError(file, error, header);
    } finally {
      parser.destroy();
    }
  }
  return { header, rows: rows() };
}
