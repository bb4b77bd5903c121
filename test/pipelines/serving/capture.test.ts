/** Capture records in the local store: partitions, batching, flush on close, failures; record splitting. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import {
  batchObjectName,
  type CaptureRecord,
  capturePrefix,
  feedbackPrefix,
  partBytesBound,
  recordJsonParts,
  recordOfLine,
  recordParts,
  writePartUtf8,
} from '../../../pipelines/serving/capture.ts';
import { joinRows } from '../../../pipelines/serving/json-rows.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { StoreCaptureSink } from '../../../pipelines/serving/store-capture-sink.ts';
import type { ObjectStore } from '../../../pipelines/storage/object-store.ts';
import { tempDir } from '../../helpers/tmp.ts';

function record(time: string, n: number, padding = ''): CaptureRecord {
  const ids = Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  return {
    type: 'capture',
    time,
    model: { version: 1, sha256: 'a'.repeat(64) },
    instances: ids.map((_, i) => ({ age: i, city: `c${padding}` })),
    predictions: ids.map((predictionId) => ({ predictionId, value: 1 })),
  };
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out;
}

describe('capture keys', () => {
  it('partitions by UTC hour (capture) and day (feedback); names sort by time', () => {
    const time = new Date('2026-03-09T07:05:06.789Z');
    expect(capturePrefix(time)).toBe('capture/2026/03/09/07/');
    expect(feedbackPrefix(time)).toBe('feedback/2026/03/09/');
    expect(batchObjectName(time, 'id')).toBe('20260309T070506789Z-id.jsonl');
  });
});

describe('recordJsonParts', () => {
  /** The reference: JSON.stringify of the record over rows [start, end). */
  function sliceJson(r: CaptureRecord, start: number, end: number): string {
    return JSON.stringify({
      ...r,
      instances: r.instances.slice(start, end),
      predictions: r.predictions.slice(start, end),
    });
  }

  it("is JSON.stringify of the record when it fits, with or without the predictions' JSON", () => {
    const small = record('2026-01-01T00:00:00.000Z', 5, 'é"\\\u2028');
    expect(recordJsonParts(small)).toEqual([JSON.stringify(small)]);
    expect(
      recordJsonParts(small, 1_000_000, {
        instances: joinRows(small.instances.map((i) => JSON.stringify(i))),
        predictions: joinRows(small.predictions.map((p) => JSON.stringify(p))),
      }),
    ).toEqual([JSON.stringify(small)]);
    const feedback = {
      type: 'feedback' as const,
      time: '2026-01-01T00:00:00.000Z',
      feedback: [
        { predictionId: 'a', label: 'x' },
        { predictionId: 'b', label: 2.5 },
      ],
    };
    expect(recordJsonParts(feedback)).toEqual([JSON.stringify(feedback)]);
    expect(recordJsonParts({ ...small, instances: [], predictions: [] })).toEqual([
      JSON.stringify({ ...small, instances: [], predictions: [] }),
    ]);
    // Times that need escapes, and one model after another (the model's JSON is kept for the last one).
    for (const time of ['2026-01-01T00:00:00.000Z', 'a"b\\c\n', '\u2028é\u0001\u007f', '']) {
      for (const model of [
        { version: 1, sha256: 'a'.repeat(64) },
        { version: null, sha256: 'a'.repeat(64) },
        { version: 1, sha256: 'b'.repeat(64) },
        { version: 2, sha256: 'b'.repeat(64) },
      ]) {
        const r = { ...record(time, 2), model };
        expect(recordJsonParts(r)).toEqual([JSON.stringify(r)]);
        expect(recordJsonParts(r, 300)).toEqual([sliceJson(r, 0, 1), sliceJson(r, 1, 2)]);
      }
    }
  });

  it.each([
    ['multi-byte text, so characters and bytes differ', 'ü'],
    ['ASCII text, split by where rows end', 'u'],
  ])(
    'splits into records of the same shape over consecutive rows, each within the limit in UTF-8 bytes: %s',
    (_, filler) => {
      const big = record('2026-01-01T00:00:00.000Z', 50, filler.repeat(100));
      for (const limit of [3000, 5000, 12_345, 4_123]) {
        const parts = recordJsonParts(big, limit);
        // The sized parts are the same texts, each with its exact UTF-8 size.
        const sized = recordParts(big, limit).parts;
        expect(sized.map((p) => p.text)).toEqual(parts);
        for (const p of sized) expect(p.bytes).toBe(Buffer.byteLength(p.text));
        for (const p of sized) expect(p.units).toBe(p.text.length);
        // Written as bytes from the layout (how the log sink writes them): the same UTF-8 bytes.
        const { layout, parts: laid } = recordParts(big, limit, {
          instances: joinRows(big.instances.map((i) => JSON.stringify(i))),
        });
        expect(laid.map((p) => p.text)).toEqual(parts);
        for (const p of laid) {
          const out = Buffer.alloc(partBytesBound(p));
          const end = writePartUtf8(layout, p, out, 0);
          expect(out.subarray(0, end).toString('utf8')).toBe(p.text);
          expect(end).toBe(Buffer.byteLength(p.text));
        }
        if (Buffer.byteLength(JSON.stringify(big)) <= limit) expect(parts).toHaveLength(1);
        else expect(parts.length).toBeGreaterThan(1);
        let start = 0;
        for (const part of parts) {
          expect(Buffer.byteLength(part)).toBeLessThanOrEqual(limit);
          const rows = (JSON.parse(part) as CaptureRecord).predictions.length;
          expect(part).toBe(sliceJson(big, start, start + rows));
          start += rows;
        }
        expect(start).toBe(50);
        // Greedy: no part could have taken the next row.
        for (let p = 0, at = 0; p < parts.length - 1; p++) {
          const rows = (JSON.parse(parts[p] as string) as CaptureRecord).predictions.length;
          expect(Buffer.byteLength(sliceJson(big, at, at + rows + 1))).toBeGreaterThan(limit);
          at += rows;
        }
      }
      // A row larger than the limit is a part of its own.
      const huge = record('2026-01-01T00:00:00.000Z', 3, 'x'.repeat(5000));
      expect(recordJsonParts(huge, 1000)).toEqual([0, 1, 2].map((i) => sliceJson(huge, i, i + 1)));
      expect(recordJsonParts(big, 10_000_000)).toEqual([JSON.stringify(big)]);
    },
  );
});

describe('StoreCaptureSink', () => {
  it('writes JSON Lines objects per partition on each flush interval and on close', async () => {
    // Prepare
    const store = new FsObjectStore(await tempDir('driftline-capture-'));
    const sink = new StoreCaptureSink(store, { flushIntervalMs: 50 });

    // Act
    sink.capture(record('2026-01-01T10:59:59.000Z', 2));
    sink.capture(record('2026-01-01T11:00:00.000Z', 1));
    sink.feedback({
      type: 'feedback',
      time: '2026-01-01T11:00:00.000Z',
      feedback: [{ predictionId: 'p', label: 'a' }],
    });
    // The timer flushes within 50 ms; wait for it without assuming how fast a loaded machine is.
    let afterTimer: string[] = [];
    for (let waited = 0; waited < 10_000 && afterTimer.length < 3; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      afterTimer = await keys(store, '');
    }
    sink.capture(record('2026-01-01T11:30:00.000Z', 3));
    await sink.close();
    sink.capture(record('2026-01-01T11:30:00.000Z', 3)); // after close: dropped

    // Assess
    expect(afterTimer.map((k) => k.replace(/[^/]+$/, ''))).toEqual([
      'capture/2026/01/01/10/',
      'capture/2026/01/01/11/',
      'feedback/2026/01/01/',
    ]);
    const hour11 = await keys(store, 'capture/2026/01/01/11/');
    expect(hour11).toHaveLength(2);
    for (const key of hour11) expect(key).toMatch(/\/\d{8}T\d{9}Z-[0-9a-f-]{36}\.jsonl$/);
    const lines = (await Promise.all(hour11.map((k) => store.readBytes(k))))
      .flatMap((o) => new TextDecoder().decode(o?.bytes).trim().split('\n'))
      .map((line) => JSON.parse(line) as CaptureRecord);
    expect(lines.map((r) => r.instances.length).sort()).toEqual([1, 3]);
    const feedback = await keys(store, 'feedback/');
    const text = await readFile(join(store.location, feedback[0] ?? ''), 'utf8');
    expect(JSON.parse(text)).toEqual({
      type: 'feedback',
      time: '2026-01-01T11:00:00.000Z',
      feedback: [{ predictionId: 'p', label: 'a' }],
    });
  });

  it('re-queues records whose write failed, and logs it', async () => {
    // Prepare
    const inner = new FsObjectStore(await tempDir('driftline-capture-'));
    let failures = 1;
    const flaky: ObjectStore = Object.assign(Object.create(inner) as ObjectStore, {
      putIfAbsent: async (key: string, body: Uint8Array) => {
        if (failures-- > 0) throw new Error('disk full');
        return inner.putIfAbsent(key, body);
      },
    });
    const log = new MemoryServingLog();
    const sink = new StoreCaptureSink(flaky, { flushIntervalMs: 60_000, log });
    sink.capture(record('2026-01-01T10:00:00.000Z', 2));

    // Act
    await sink.flush();
    await sink.close();

    // Assess
    expect(log.entries[0]).toMatchObject({ level: 'error', attributes: { records: 1, error: 'disk full' } });
    expect(await keys(inner, 'capture/')).toHaveLength(1);
  });
});

describe('recordOfLine', () => {
  const record = {
    type: 'capture',
    time: '2026-05-01T12:00:00.000Z',
    model: { version: 1, sha256: 'a' },
    instances: [],
    predictions: [],
  };

  it('reads a record stored locally and one delivered by Firehose inside its log line', () => {
    expect(recordOfLine(JSON.stringify(record))).toEqual(record);
    const logLine = { level: 'INFO', message: 'driftline capture', driftline: 'capture', record };
    expect(recordOfLine(JSON.stringify(logLine))).toEqual(record);
    expect(
      recordOfLine(
        JSON.stringify({ driftline: 'feedback', record: { type: 'feedback', time: 't', feedback: [] } }),
      ),
    ).toMatchObject({ type: 'feedback' });
  });

  it('ignores lines that hold no record', () => {
    expect(recordOfLine('not json')).toBeUndefined();
    expect(recordOfLine('{"type":"other"}')).toBeUndefined();
    expect(recordOfLine('{"record":42}')).toBeUndefined();
    expect(recordOfLine('null')).toBeUndefined();
  });
});
