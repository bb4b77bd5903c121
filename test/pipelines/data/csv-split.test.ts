/**
 * The pieces of a CSV file read in two parts: where the split falls (from the bytes alone), a scanner
 * that stops at the split and reads on when asked, and a scanner that starts at it — together they
 * read exactly the records of one scanner over the whole file.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CsvScanner, NEED_MORE, RECORD, type RecordDelimiter } from '../../../pipelines/data/csv-scan.ts';
import { splitOffset } from '../../../pipelines/data/csv-split.ts';
import { writeCsv } from '../../helpers/push-csv-gen.ts';
import { tempDir } from '../../helpers/tmp.ts';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-csv-split-');
});

/** The records `scanner` reads until the end, or until it pauses at its limit. */
async function records(scanner: CsvScanner, untilLimit = false): Promise<string[][]> {
  const out: string[][] = [];
  for (;;) {
    const step = scanner.next();
    if (step === RECORD) out.push(Array.from({ length: scanner.fieldCount }, (_, j) => scanner.text(j)));
    else if (step === NEED_MORE) {
      if (untilLimit && scanner.atLimit) return out;
      await scanner.fill();
    } else return out;
  }
}

describe('splitOffset', () => {
  it('is just after the first record delimiter at or after the middle byte', async () => {
    const text = 'a,b\n1,2\n3,4\n5,6\n7,8\n';
    const file = await writeCsv(dir, 'small.csv', text);
    // 20 bytes: the middle is byte 10 ('4'), the next line break is byte 11.
    expect(await splitOffset(file, 'lf', 4)).toBe(12);
    // Never before `from` (the end of the header).
    expect(await splitOffset(file, 'lf', 13)).toBe(16);
    // A line break as the middle byte itself.
    const at = await writeCsv(dir, 'at.csv', 'a,b\n1,22\n33,4\n');
    expect(await splitOffset(at, 'lf', 4)).toBe(9);
  });

  it('finds a CRLF across two reads, skips a lone CR or LF, and finds a CR', async () => {
    const size = 3 << 20;
    const bytes = Buffer.alloc(size, 0x61);
    const middle = size / 2;
    bytes[middle + 10] = 0x0a;
    bytes[middle + 20] = 0x0d;
    // The search reads 1 MB at a time from the middle: this pair straddles the first two reads.
    const pair = middle + (1 << 20) - 1;
    bytes[pair] = 0x0d;
    bytes[pair + 1] = 0x0a;
    const file = await writeCsv(dir, 'straddle.csv', bytes);
    expect(await splitOffset(file, 'crlf', 0)).toBe(pair + 2);
    expect(await splitOffset(file, 'lf', 0)).toBe(middle + 11);
    expect(await splitOffset(file, 'cr', 0)).toBe(middle + 21);
  });

  it('is undefined with no delimiter after the middle, or only as the last byte', async () => {
    const none = await writeCsv(dir, 'none.csv', `a\n1\n${'x'.repeat(100)}`);
    expect(await splitOffset(none, 'lf', 2)).toBeUndefined();
    const last = await writeCsv(dir, 'last.csv', `a\n1\n${'x'.repeat(100)}\n`);
    expect(await splitOffset(last, 'lf', 2)).toBeUndefined();
  });
});

describe('a scanner over part of a file', () => {
  const cases: [string, RecordDelimiter, string][] = [
    ['lf', 'lf', '\n'],
    ['crlf', 'crlf', '\r\n'],
    ['cr', 'cr', '\r'],
  ];
  it.each(cases)(
    'stops at a limit, starts at an offset, and reads on when lifted (%s)',
    async (name, delimiter, eol) => {
      // Two megabytes of records, some with quoted line breaks, a byte order mark and empty lines, so
      // the limit falls past the first buffer and inside a quoted value.
      const lines = ['h1,h2'];
      for (let i = 0; i < 90_000; i += 1) {
        lines.push(i % 1000 === 0 ? '' : i % 97 === 0 ? `"q${eol}${i}",${i}` : `${i},${i * 3}`);
      }
      const text = `\ufeff${lines.join(eol)}${eol}`;
      const file = await writeCsv(dir, `part-${name}.csv`, text);
      const whole = await CsvScanner.open(file);
      const all = await records(whole);
      await whole.close();
      const start = (await splitOffset(file, delimiter, 0)) as number;

      // The first part: up to the split, which here is a record boundary.
      const first = await CsvScanner.open(file);
      first.next();
      first.limit(start);
      const head = await records(first, true);
      expect(first.atLimit).toBe(true);
      expect(first.unread).toBe(0);
      expect(first.offset).toBe(start);
      // The second part, from the split.
      const second = await CsvScanner.openAt(file, start, 2, delimiter);
      const tail = await records(second);
      await second.close();
      expect([...head, ...tail]).toEqual(all.slice(1));
      // Line numbers of the second part count from the split.
      expect(second.line + first.lineBreaks).toBe(whole.line);
      // Lifted, the first part reads on to the same end.
      first.lift();
      expect([...head, ...(await records(first))]).toEqual(all.slice(1));
      await first.close();

      // A limit inside a quoted value: the scanner waits there with part of a record.
      const quoted = text.indexOf(`"q${eol}`, text.length / 3);
      const inside = Buffer.byteLength(text.slice(0, quoted + 3));
      const third = await CsvScanner.open(file);
      third.next();
      third.limit(inside);
      await records(third, true);
      expect(third.atLimit).toBe(true);
      expect(third.unread).toBeGreaterThan(0);
      third.lift();
      await third.close();
    },
  );
});
