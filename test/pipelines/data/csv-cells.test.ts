/**
 * The byte-level readers of CSV cells against the rules on the text: a number read from its bytes is
 * the double `Number(text)` gives, or left to the rule; a category's code stands for exactly the text
 * and verdict the rule gives.
 */
import { describe, expect, it } from 'vitest';
import { categoricalCell } from '../../../pipelines/data/cell-rules.ts';
import { CategoryCache, parseDecimal } from '../../../pipelines/data/csv-cells.ts';
import { parseNumericCell } from '../../../pipelines/data/missing.ts';
import { createPrng } from '../../../pipelines/train/gbdt/prng.ts';

/** The text with 8 readable bytes after it, as the scanner keeps them. */
function padded(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from('xxxxxxxx')]);
}

function fast(text: string): number {
  return parseDecimal(padded(text), 0, Buffer.byteLength(text));
}

describe('parseDecimal', () => {
  it.each([
    ['0', 0],
    ['-0', -0],
    ['-0.0', -0],
    ['+5', 5],
    ['.5', 0.5],
    ['5.', 5],
    ['-.25', -0.25],
    ['1e5', 1e5],
    ['1E-3', 1e-3],
    ['2.5e+10', 2.5e10],
    ['5.e3', 5000],
    ['0.1234567890123456', 0.1234567890123456],
    ['9007199254740991', 9007199254740991],
  ])('reads %s exactly as Number does', (text, value) => {
    expect(Object.is(fast(text), value)).toBe(true);
    expect(Object.is(fast(text), parseNumericCell(text))).toBe(true);
  });

  it.each([
    '',
    '1e400',
    '0x1F',
    '1_000',
    ' 7',
    '7 ',
    'NaN',
    'Infinity',
    '1.2.3',
    '--1',
    '.',
    'e5',
    '1e',
    '1e+',
    '+',
    '9007199254740992',
    '9007199254740993',
    '900719925474099.3',
    '12345678901234567890',
    '1e23',
    '1e-30',
  ])('leaves %j to the rule on the text', (text) => {
    expect(fast(text)).toBeNaN();
  });

  it('agrees with Number on a million random decimals it accepts', () => {
    const prng = createPrng(7);
    let accepted = 0;
    for (let k = 0; k < 1_000_000; k += 1) {
      const digits = 1 + prng.nextInt(18);
      let text = prng.nextFloat() < 0.3 ? '-' : '';
      for (let d = 0; d < digits; d += 1) text += String(prng.nextInt(10));
      const point = prng.nextInt(digits + 1);
      if (prng.nextFloat() < 0.7)
        text = `${text.slice(0, point + (text.startsWith('-') ? 1 : 0))}.${text.slice(point + (text.startsWith('-') ? 1 : 0))}`;
      if (prng.nextFloat() < 0.2) text += `e${prng.nextInt(50) - 25}`;
      const value = fast(text);
      if (Number.isNaN(value)) continue;
      accepted += 1;
      const expected = parseNumericCell(text);
      if (!Object.is(value, expected)) expect({ text, value }).toEqual({ text, value: expected });
    }
    expect(accepted).toBeGreaterThan(500_000);
  });
});

describe('CategoryCache', () => {
  it('gives each distinct text one code, standing for the rule verdict on it', () => {
    const cache = new CategoryCache();
    const texts = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'abcde',
      'abcdefgh',
      'abcdefghi',
      'NA',
      ' NA ',
      'null',
      'Zürich',
      '日本語',
      'x'.repeat(64),
      'x'.repeat(65),
    ];
    const codes = new Map<string, number>();
    for (let round = 0; round < 3; round += 1) {
      for (const text of texts) {
        const bytes = padded(text);
        const code = cache.codeOf(bytes, 0, Buffer.byteLength(text));
        if (text.length > 64) {
          expect(code).toBe(-1);
          continue;
        }
        expect(code).toBeGreaterThanOrEqual(0);
        expect(cache.values[code]).toEqual(categoricalCell(text));
        if (round === 0) codes.set(text, code);
        else expect(code).toBe(codes.get(text));
      }
    }
    expect(new Set(codes.values()).size).toBe(codes.size);
  });

  it('stops learning at 2,048 values and still reads the ones it knows', () => {
    const cache = new CategoryCache();
    const codes: number[] = [];
    for (let i = 0; i < 5000; i += 1) codes.push(cache.codeOf(padded(`v${i}`), 0, `v${i}`.length));
    expect(codes.filter((c) => c >= 0).length).toBe(2048);
    codes.forEach((code, i) => {
      if (code >= 0) {
        expect(cache.values[code]).toBe(`v${i}`);
        expect(cache.codeOf(padded(`v${i}`), 0, `v${i}`.length)).toBe(code);
      }
    });
  });
});
