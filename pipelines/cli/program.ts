/**
 * The `driftline` command line: commander wiring only. Each command lives in `commands/` and calls
 * the logic in `pipelines/`; output and exit codes are decided in `output.ts`.
 *
 * Command modules are loaded on demand: a run registers only the command it names (all of them for
 * help, a typo or no command), so `driftline data ls` does not pay for loading the trainers, the
 * ONNX runtime or the server.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors.ts';
import { DRIFTLINE_VERSION } from '../version.ts';
import { outputOptionsFromArgv } from './context.ts';
import { type CliIo, processIo } from './io.ts';
import { EXIT_OK, EXIT_USAGE, reportError } from './output.ts';

type Register = (program: Command, io: CliIo) => void;

/** Every command, in help order, with the loader of its module. */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  init: async () => (await import('./commands/init.ts')).registerInitCommand,
  config: async () => (await import('./commands/config.ts')).registerConfigCommands,
  data: async () => (await import('./commands/data.ts')).registerDataCommands,
  fit: async () => (await import('./commands/fit.ts')).registerFitCommand,
  predict: async () => (await import('./commands/predict.ts')).registerPredictCommand,
  train: async () => (await import('./commands/train.ts')).registerTrainCommand,
  runs: async () => (await import('./commands/runs.ts')).registerRunsCommands,
  models: async () => (await import('./commands/models.ts')).registerModelsCommands,
  serve: async () => (await import('./commands/serve.ts')).registerServeCommand,
  demo: async () => (await import('./commands/demo.ts')).registerDemoCommand,
};

/** Global options that take a value (so the value is not mistaken for the command name). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config']);

/** The command `argv` names, if it names a known one. */
function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const word = argv[i] as string;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(word)) i += 1;
    else if (!word.startsWith('-')) return Object.hasOwn(COMMANDS, word) ? word : undefined;
  }
  return undefined;
}

/**
 * Builds the command tree, writing through `io`: every command, only `only` when given, none for null.
 */
export async function buildProgram(io: CliIo, only?: string | null): Promise<Command> {
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
  // null: no command at all (`--version`).
  const names = only === null ? [] : only === undefined ? Object.keys(COMMANDS) : [only];
  const registers = await Promise.all(names.map((name) => (COMMANDS[name] as () => Promise<Register>)()));
  for (const register of registers) register(program, io);
  return program;
}

const INFORMATIONAL = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/**
 * Runs the CLI on `argv` (the words after `driftline`) and resolves to the exit code.
 * Never throws: every failure is reported on stderr.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const output = outputOptionsFromArgv(argv);
  try {
    const named = commandOf(argv);
    const versionOnly = named === undefined && (argv.includes('--version') || argv.includes('-V'));
    const program = await buildProgram(io, versionOnly ? null : named);
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
