/**
 * Worker thread of `file-hash.ts`: hashes a whole file, or the chunks that come through a ring of
 * shared memory until the sender marks the end; posts each hash back.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import {
  DONE,
  type HashReply,
  type HashRequest,
  HEAD,
  LENGTHS,
  RING_SLOT_BYTES,
  RING_SLOTS,
  TAIL,
} from './file-hash.ts';

const CHUNK_BYTES = 1 << 20;

function reply(message: HashReply): void {
  parentPort?.postMessage(message);
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    // One buffer, reused: the hash consumes each chunk before the next read.
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) return hash.digest('hex');
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** Hashes the ring's chunks in order until the end flag is set and every chunk is taken. */
function hashRing(ringBuffer: SharedArrayBuffer, controlBuffer: SharedArrayBuffer): string {
  const hash = createHash('sha256');
  const ring = new Uint8Array(ringBuffer);
  const control = new Int32Array(controlBuffer);
  let tail = 0;
  for (;;) {
    if (Atomics.load(control, HEAD) === tail) {
      if (Atomics.load(control, DONE) === 1 && Atomics.load(control, HEAD) === tail)
        return hash.digest('hex');
      // A short timeout: the end flag may be set between the check and the wait.
      Atomics.wait(control, HEAD, tail, 50);
      continue;
    }
    const slot = tail % RING_SLOTS;
    const length = Atomics.load(control, LENGTHS + slot);
    hash.update(ring.subarray(slot * RING_SLOT_BYTES, slot * RING_SLOT_BYTES + length));
    tail += 1;
    Atomics.store(control, TAIL, tail);
    Atomics.notify(control, TAIL);
  }
}

parentPort?.on('message', (request: HashRequest) => {
  if ('file' in request) {
    hashFile(request.file).then(
      (hex) => reply({ hex }),
      (error: unknown) => reply({ error: (error as Error).message }),
    );
  } else {
    try {
      reply({ hex: hashRing(request.ring, request.control) });
    } catch (error) {
      reply({ error: (error as Error).message });
    }
  }
});
reply('started');
