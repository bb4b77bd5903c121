/** The Driftline package version, recorded in models, runs and `driftline --version`. */
import pkg from '../package.json' with { type: 'json' };

export const DRIFTLINE_VERSION: string = pkg.version;
