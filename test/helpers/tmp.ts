/**
 * Temporary folders for tests. The cleanup hook is registered when a test file imports this module
 * (at collection time), so folders made anywhere — in hooks or inside tests — are removed after the file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Creates a fresh temp folder, deleted when the test file finishes. */
export async function tempDir(prefix = 'driftline-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
