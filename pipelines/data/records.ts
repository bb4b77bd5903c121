/**
 * Format-agnostic record reading: CSV, JSON Lines and Parquet files all become a stream of records
 * holding the values of the columns asked for, in that order. Memory stays bounded: CSV and JSON Lines
 * are streamed line by line, Parquet one row group at a time.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.ts';
import { csvInputError, openCsvScan } from './csv.ts';
import { type CsvScanner, NEED_MORE, RECORD } from './csv-scan.ts';

/** The file formats Driftline reads, by extension. */
export const DATA_FORMATS = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
} as const;
export type DataFormat = (typeof DATA_FORMATS)[keyof typeof DATA_FORMATS];

/** One record: the 1-based row number and the values of the requested columns (undefined = absent). */
export interface DataRecord {
  readonly row: number;
  readonly values: readonly unknown[];
}

/** An opened data file. */
export interface RecordSource {
  readonly format: DataFormat;
  /** Columns the file has (JSON Lines: known only after reading, so this lists the requested ones). */
  readonly columns: readonly string[];
  readonly records: AsyncIterable<DataRecord>;
  /**
   * CSV only, for readers of bytes: the scanner on the first data row and the file's field of each
   * requested column. A reader uses either this (and closes the scanner) or `records`.
   */
  readonly csv?: { readonly scanner: CsvScanner; readonly fields: readonly number[] };
}

/** The format of `file`, from its extension. */
export function dataFormatOf(file: string): DataFormat {
  const ext = extname(file).toLowerCase() as keyof typeof DATA_FORMATS;
  const format = DATA_FORMATS[ext];
  if (format === undefined) {
    throw new InputError(`${file}: unknown file type "${extname(file)}"`, {
      hint: `use one of ${Object.keys(DATA_FORMATS).join(', ')}`,
    });
  }
  return format;
}

async function ensureFile(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`${file} is not a file`);
    return info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no such file: ${file}`, { hint: 'check the path to the data file' });
    }
    throw error;
  }
}

function missingColumns(file: string, have: readonly string[], want: readonly string[]): void {
  const absent = want.filter((c) => !have.includes(c));
  if (absent.length > 0) {
    throw new InputError(`${file} has no column ${absent.map((c) => `"${c}"`).join(', ')}`, {
      details: absent.map((c) => ({ path: `column "${c}"`, message: 'not in the file' })),
      hint: `the file's columns are ${have.map((c) => `"${c}"`).join(', ')}; fix the file or driftline.config.json`,
    });
  }
}

async function openCsvRecords(file: string, wanted: readonly string[]): Promise<RecordSource> {
  const { header, scanner } = await openCsvScan(file);
  try {
    missingColumns(file, header, wanted);
  } catch (error) {
    await scanner.close();
    throw error;
  }
  const fields = wanted.map((c) => header.indexOf(c));
  async function* records(): AsyncGenerator<DataRecord> {
    let row = 0;
    try {
      for (;;) {
        const step = scanner.next();
        if (step === RECORD) {
          row += 1;
          yield { row, values: fields.map((j) => scanner.text(j)) };
        } else if (step === NEED_MORE) await scanner.fill();
        else return;
      }
    } catch (error) {
      throw csvInputError(file, error, header);
    } finally {
      await scanner.close();
    }
  }
  return { format: 'csv', columns: header, records: records(), csv: { scanner, fields } };
}

function openJsonlRecords(file: string, wanted: readonly string[]): RecordSource {
  async function* records(): AsyncGenerator<DataRecord> {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    const seen = new Set<string>();
    let row = 0;
    let line = 0;
    for await (const text of lines) {
      line += 1;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new InputError(`${file}, line ${line}: not valid JSON (${(error as Error).message})`, {
          hint: 'JSON Lines files hold one JSON object per line',
        });
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new InputError(
          `${file}, line ${line}: expected a JSON object, received ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
          {
            hint: 'JSON Lines files hold one JSON object per line',
          },
        );
      }
      row += 1;
      const object = value as Record<string, unknown>;
      for (const c of wanted) if (c in object) seen.add(c);
      yield { row, values: wanted.map((c) => object[c]) };
    }
    if (row === 0)
      throw new InputError(`${file} is empty`, { hint: 'the file needs at least one JSON object' });
    // A column that never occurs is a wrong file or a wrong config, not "all missing".
    missingColumns(file, [...seen], wanted);
  }
  return { format: 'jsonl', columns: wanted, records: records() };
}

async function openParquetRecords(file: string, wanted: readonly string[]): Promise<RecordSource> {
  // Loaded on first use: the Parquet reader and its decompressors (WebAssembly) are sizeable, and most
  // passes (every CSV one, on every thread) never need them.
  const [{ asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema }, { compressors }] =
    await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const buffer = await asyncBufferFromFile(file);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    throw new InputError(`${file} is not a readable Parquet file: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  missingColumns(file, columns, wanted);
  async function* records(): AsyncGenerator<DataRecord> {
    let start = 0;
    let row = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      let rows: unknown[][] = [];
      await parquetRead({
        file: buffer,
        metadata,
        columns: [...wanted],
        rowStart: start,
        rowEnd: end,
        compressors,
        onComplete: (data: unknown[][]) => {
          rows = data;
        },
      });
      for (const values of rows) {
        row += 1;
        yield { row, values };
      }
      start = end;
    }
  }
  return { format: 'parquet', columns, records: records() };
}

/**
 * Opens a data file and reads the `wanted` columns from it.
 * @throws InputError for a missing file, an unknown extension, an empty file or absent columns
 */
export async function openRecords(file: string, wanted: readonly string[]): Promise<RecordSource> {
  const format = dataFormatOf(file);
  const size = await ensureFile(file);
  if (size === 0)
    throw new InputError(`${file} is empty`, { hint: 'the file needs a header line and at least one row' });
  switch (format) {
    case 'csv':
      return openCsvRecords(file, wanted);
    case 'jsonl':
      return openJsonlRecords(file, wanted);
    case 'parquet':
      return openParquetRecords(file, wanted);
  }
}
