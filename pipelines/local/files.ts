/** Small filesystem helpers for the local runtime. */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to `file` atomically: a temp file in the same folder, fsync, then rename, so a reader
 * (or a crash) never sees a half-written file.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, file);
}

/** True when `file` exists. */
export async function exists(file: string): Promise<boolean> {
  try {
    await open(file, 'r').then((h) => h.close());
    return true;
  } catch {
    return false;
  }
}
