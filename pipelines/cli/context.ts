/** What every command action gets: the IO, the global options and where the config file is. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE, loadConfig } from '../config/load.ts';
import type { DriftlineConfig } from '../config/schema.ts';
import { FsObjectStore } from '../local/fs-store.ts';
import { driftlineHome } from '../local/home.ts';
import { localRegistry } from '../registry/local-registry.ts';
import type { ModelRegistry } from '../registry/registry.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { CliIo } from './io.ts';
import type { OutputOptions } from './output.ts';

/** Global options, valid before or after the command name. */
interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  config?: string;
}

/** Per-invocation context handed to a command. */
export interface CommandContext {
  readonly io: CliIo;
  readonly output: OutputOptions;
  /** Absolute path of the config file (`--config`, default `./driftline.config.json`). */
  readonly configPath: string;
  /** Absolute path of the local state folder (`$DRIFTLINE_HOME`, default `./.driftline`). */
  readonly home: string;
  /** Reads and validates the config; every command that needs it calls this first. */
  readonly config: (overrides?: readonly string[]) => Promise<DriftlineConfig>;
  /** The object store: the local folder under {@link CommandContext.home}. */
  readonly store: () => ObjectStore;
  /** The model registry kept in {@link CommandContext.store}. */
  readonly registry: () => ModelRegistry;
}

/** Builds the context from the command's options merged with the program's. */
export function commandContext(io: CliIo, command: Command): CommandContext {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const configPath = resolve(io.cwd, globals.config ?? CONFIG_FILE);
  const home = driftlineHome(io.env, io.cwd);
  let store: ObjectStore | undefined;
  return {
    io,
    output: { json: globals.json === true, debug: globals.debug === true },
    configPath,
    home,
    config: (overrides = []) => loadConfig(configPath, overrides),
    store: () => {
      store ??= new FsObjectStore(home);
      return store;
    },
    registry: () => {
      store ??= new FsObjectStore(home);
      return localRegistry(store);
    },
  };
}

/** Reads the global output options straight from argv, for errors raised before any action runs. */
export function outputOptionsFromArgv(argv: readonly string[]): OutputOptions {
  return { json: argv.includes('--json'), debug: argv.includes('--debug') };
}
