/**
 * Streaming CSV reading on the byte scanner (`csv-scan.ts`): the header is checked once (empty file,
 * duplicate or blank column names, a file that is not comma-separated), then rows are yielded one at a
 * time with their row number, so memory stays flat whatever the file size.
 */
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { CsvScanner, CsvSyntaxError, END, NEED_MORE, RECORD } from './csv-scan.ts';

/** One data row: its cells in header order and the 1-based row number (header excluded). */
export interface CsvRow {
  readonly cells: readonly string[];
  readonly row: number;
}

/** An opened CSV file: the header, and an iterator over the rows that follow it. */
export interface CsvFile {
  readonly header: readonly string[];
  /** The rows; reading them to the end (or stopping early with `break`) closes the file. */
  readonly rows: AsyncIterable<CsvRow>;
  /** Closes the file without reading the rows (idempotent). */
  close(): Promise<void>;
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

/**
 * The InputError for a structural problem found by the scanner, naming the file and the line; other
 * errors pass through.
 */
export function csvInputError(file: string, error: unknown, header: readonly string[]): unknown {
  if (!(error instanceof CsvSyntaxError)) return error;
  const at = ` at line ${error.line}`;
  switch (error.problem) {
    case 'field-count':
      return new InputError(
        `${file}${at}: the row has ${error.count} fields but the header has ${header.length}`,
        {
          hint: 'Every row must have one value per header column; quote values that contain commas.',
          cause: error,
        },
      );
    case 'unclosed-quote':
    case 'closing-quote':
      return new InputError(`${file}${at}: a quoted value is not closed properly`, {
        hint: 'Check the quotes on that line; a quote inside a value must be doubled ("").',
        cause: error,
      });
    case 'opening-quote':
      return new InputError(
        `${file}${at}: a quote is found in field ${error.count}, after ${JSON.stringify(error.text)}, but the value is not quoted`,
        {
          hint: 'Put the whole value in quotes and double each quote inside it ("").',
          cause: error,
        },
      );
  }
}

async function checkFile(file: string): Promise<void> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`${file} is not a file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no such file: ${file}`, { hint: 'check the path to the data file' });
    }
    throw error;
  }
}

/** An opened CSV file for readers of bytes: its checked header and the scanner, after the header. */
export interface CsvScan {
  readonly header: readonly string[];
  readonly scanner: CsvScanner;
}

/**
 * Opens a CSV file and reads its header; the scanner is positioned on the first data row. The caller
 * closes the scanner, and maps the scanner's errors with {@link csvInputError}.
 * @throws InputError when the file does not exist, is empty or its header is bad
 */
export async function openCsvScan(file: string): Promise<CsvScan> {
  await checkFile(file);
  const scanner = await CsvScanner.open(file);
  let header: string[] = [];
  try {
    for (;;) {
      const step = scanner.next();
      if (step === RECORD) break;
      if (step === END) {
        throw new InputError(`${file} is empty`, {
          hint: 'The file needs a header line and at least one row.',
        });
      }
      await scanner.fill();
    }
    header = Array.from({ length: scanner.fieldCount }, (_, j) => scanner.text(j).trim());
    checkHeader(file, header);
  } catch (error) {
    await scanner.close();
    throw csvInputError(file, error, header);
  }
  return { header, scanner };
}

/**
 * Open a CSV file with a header line.
 * @throws InputError when the file does not exist, is empty or its header is bad
 */
export async function openCsv(file: string): Promise<CsvFile> {
  const { header, scanner } = await openCsvScan(file);
  async function* rows(): AsyncGenerator<CsvRow> {
    let row = 0;
    try {
      for (;;) {
        const step = scanner.next();
        if (step === RECORD) {
          row += 1;
          yield { cells: Array.from({ length: scanner.fieldCount }, (_, j) => scanner.text(j)), row };
        } else if (step === NEED_MORE) await scanner.fill();
        else return;
      }
    } catch (error) {
      throw csvInputError(file, error, header);
    } finally {
      await scanner.close();
    }
  }
  return { header, rows: rows(), close: () => scanner.close() };
}
