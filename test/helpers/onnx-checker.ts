/**
 * Runs the official ONNX checker (`onnx.checker.check_model(model, full_check=True)` from Debian's
 * python3-onnx) on exported bytes. A missing python3-onnx fails the test with the install command:
 * CI installs it, and a silently skipped check would hide a broken model.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's interpreter; a pyenv `python3` earlier on PATH cannot see Debian's packages. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const CHECK = `
import sys
try:
    import onnx
except ImportError as error:
    print(f"python3-onnx is not installed ({error}); run: apt-get install -y --no-install-recommends python3-onnx", file=sys.stderr)
    sys.exit(3)
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
`;

/** Throws an Error carrying the checker's message unless the model passes the full check. */
export function checkOnnxModel(bytes: Uint8Array): void {
  const dir = mkdtempSync(join(tmpdir(), 'driftline-onnx-check-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, bytes);
    const run = spawnSync(SYSTEM_PYTHON, ['-c', CHECK, file], { encoding: 'utf8' });
    if (run.error !== undefined) {
      throw new Error(`cannot run ${SYSTEM_PYTHON}: ${run.error.message}; install python3 and python3-onnx`);
    }
    if (run.status !== 0) {
      throw new Error(`onnx.checker.check_model(full_check=True) rejected the model:\n${run.stderr.trim()}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
