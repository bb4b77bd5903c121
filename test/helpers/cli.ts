/** Runs the real CLI program in-process with captured output, in a given working directory. */
import { runCli } from '../../pipelines/cli/program.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `driftline ...argv` in `cwd` and captures the exit code and both streams. */
export async function runDriftline(
  argv: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    cwd,
    env: { DRIFTLINE_HOME: '.driftline', ...env },
  });
  return { code, stdout, stderr };
}
