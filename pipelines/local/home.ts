/** Where local state lives: `$DRIFTLINE_HOME`, or `./.driftline` under the working directory. */
import { resolve } from 'node:path';

/** The absolute path of the local Driftline home for this environment and working directory. */
export function driftlineHome(env: NodeJS.ProcessEnv, cwd: string): string {
  const configured = env.DRIFTLINE_HOME;
  return resolve(cwd, configured !== undefined && configured !== '' ? configured : '.driftline');
}
