/**
 * The `driftline` command line: commander wiring only. Each command lives in `commands/` and calls
 * the logic in `pipelines/`; output and exit codes are decided in `output.ts`.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors.ts';
import { DRIFTLINE_VERSION } from '../version.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDataCommands } from './commands/data.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerFitCommand } from './commands/fit.ts';
import { registerInitCommand } from './commands/init.ts';
import { registerModelsCommands } from './commands/models.ts';
import { registerPredictCommand } from './commands/predict.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerTrainCommand } from './commands/train.ts';
import { outputOptionsFromArgv } from './context.ts';
import { type CliIo, processIo } from './io.ts';
import { EXIT_OK, EXIT_USAGE, reportError } from './output.ts';

/** Builds the full command tree, writing through `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('driftline')
    .description(
      'Driftline: versioned data, training, ONNX serving and drift monitoring — locally or on AWS.',
    )
    .version(DRIFTLINE_VERSION, '-V, --version', 'print the Driftline version')
    .option('--json', 'machine-readable JSON output')
    .option('--config <file>', 'the config file', 'driftline.config.json')
    .option('--debug', 'print stack traces with errors')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      // Usage errors are reported by run() in the one error format.
      outputError: () => {},
    })
    .exitOverride()
    .showSuggestionAfterError(true);

  registerInitCommand(program, io);
  registerConfigCommands(program, io);
  registerDataCommands(program, io);
  registerFitCommand(program, io);
  registerPredictCommand(program, io);
  registerTrainCommand(program, io);
  registerRunsCommands(program, io);
  registerModelsCommands(program, io);
  registerServeCommand(program, io);
  registerDemoCommand(program, io);
  return program;
}

const INFORMATIONAL = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/**
 * Runs the CLI on `argv` (the words after `driftline`) and resolves to the exit code.
 * Never throws: every failure is reported on stderr.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const output = outputOptionsFromArgv(argv);
  const program = buildProgram(io);
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (INFORMATIONAL.has(error.code)) return EXIT_OK;
      const message = error.message.replace(/^error: /, '');
      return reportError(io, output, new UsageError(message, { hint: 'See "driftline --help".' }));
    }
    return reportError(io, output, error);
  }
}
