/** The code version of a working directory: its git commit, when it is a git checkout. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `{ gitCommit, gitDirty }` of `cwd`, or `{}` outside a git checkout or without git. */
export async function gitVersion(cwd: string): Promise<{ gitCommit?: string; gitDirty?: boolean }> {
  try {
    const [head, status] = await Promise.all([
      run('git', ['rev-parse', 'HEAD'], { cwd }),
      run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd }),
    ]);
    return { gitCommit: head.stdout.trim(), gitDirty: status.stdout.trim() !== '' };
  } catch {
    return {};
  }
}
