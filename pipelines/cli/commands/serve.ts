/**
 * `driftline serve [--port N] [--host 127.0.0.1] [--model PATH]`: the HTTP API on loopback, through
 * the predict Lambda's own handler (`lambdas/predict/create-handler.ts`) wired to local adapters: the
 * store under `$DRIFTLINE_HOME`, captured records written there every second, no metrics output.
 * Serves the champion (following promotions and rollbacks) or, with `--model`, one model file.
 * SIGINT / SIGTERM stop it gracefully: no new connections, requests in flight finish, capture is
 * flushed, exit 0.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createHandler } from '../../../lambdas/predict/create-handler.ts';
import type { DriftlineConfig } from '../../config/schema.ts';
import { UsageError } from '../../errors.ts';
import { type LocalServer, startLocalServer } from '../../serving/local-server.ts';
import { LineServingLog, type ServingLog } from '../../serving/log.ts';
import { NoopServingMetrics, type ServingMetrics } from '../../serving/metrics.ts';
import {
  ChampionModelSource,
  FixedModelSource,
  type LoadedModel,
  type ModelSource,
} from '../../serving/model-source.ts';
import { StoreCaptureSink } from '../../serving/store-capture-sink.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult } from '../output.ts';
import { readModelFile } from './predict.ts';

/** Options of {@link startServer}. */
export interface ServeOptions {
  readonly config: DriftlineConfig;
  /** The local store (`$DRIFTLINE_HOME`): the champion pointer and models, and captured records. */
  readonly store: ObjectStore;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** Serve this model file (or `driftline fit` folder) instead of the champion. */
  readonly modelFile?: string;
  /** @default a log that drops everything */
  readonly log?: ServingLog;
  /** @default no-op */
  readonly metrics?: ServingMetrics;
  /** Champion check interval. @default config.api.modelRefreshSeconds */
  readonly refreshMs?: number;
  /** Capture sampling draw. @default Math.random */
  readonly random?: () => number;
  /** @default 1000 */
  readonly captureFlushMs?: number;
  /** @default MAX_BODY_BYTES (6 MB) */
  readonly maxBodyBytes?: number;
}

/** A started server and what it serves. */
export interface RunningServer extends LocalServer {
  readonly models: ModelSource;
}

const SILENT: ServingLog = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Starts `driftline serve` in-process: the predict handler with local dependencies behind node:http.
 * @throws UsageError when the port is taken; InputError when `modelFile` does not fit the config
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? SILENT;
  let models: ModelSource;
  if (options.modelFile !== undefined) {
    const { file, bytes } = await readModelFile(options.modelFile);
    models = await FixedModelSource.create(bytes, file, options.config, log);
  } else {
    models = new ChampionModelSource({
      store: options.store,
      config: options.config,
      log,
      ...(options.refreshMs === undefined ? {} : { refreshMs: options.refreshMs }),
    });
  }
  const capture = new StoreCaptureSink(options.store, {
    log,
    ...(options.captureFlushMs === undefined ? {} : { flushIntervalMs: options.captureFlushMs }),
  });
  const handler = createHandler(
    {
      config: options.config,
      models,
      capture,
      metrics: options.metrics ?? new NoopServingMetrics(),
      log,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    },
    { log },
  );
  const port = options.port ?? 8080;
  let server: LocalServer;
  try {
    server = await startLocalServer({
      handler,
      host: options.host ?? '127.0.0.1',
      port,
      log,
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
      onClose: async () => {
        await models.close();
        await capture.close();
      },
    });
  } catch (error) {
    await models.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new UsageError(`port ${port} is in use`, { hint: 'pass another --port, or 0 for any free port' });
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new UsageError(`cannot listen on ${options.host}: no such local address`);
    }
    throw error;
  }
  return { ...server, models };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port ${text}: expected a port number 0-65535 (0 picks a free one)`);
  }
  return port;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * Waits for the first SIGINT or SIGTERM. Listening replaces Node's default (exit at once), so the
 * listeners are removed as soon as a signal came or the wait is cancelled.
 */
function stopSignal(): { received: Promise<string>; cancel: () => void } {
  let stop: (signal: string) => void = () => {};
  const received = new Promise<string>((resolveSignal) => {
    stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveSignal(signal);
    };
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    received,
    cancel: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function describeModel(model: LoadedModel | undefined): string {
  if (model === undefined) return 'no model deployed yet: /predict answers 503 until a version is promoted';
  return model.version === null
    ? `serving ${model.source} (sha256 ${model.sha256.slice(0, 12)})`
    : `serving model version ${model.version} (sha256 ${model.sha256.slice(0, 12)})`;
}

/** Registers `driftline serve`. */
export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('serve the HTTP API (predict, feedback, model, health) locally; the champion by default')
    .option('--port <n>', 'port to listen on (0 picks a free one)', parsePort, 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--model <path>', 'serve this model.onnx (or "driftline fit" folder) instead of the champion')
    .action(async (options: { port: number; host: string; model?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const config = await ctx.config();
      const log = new LineServingLog(io.stderr);
      if (!isLoopback(options.host)) {
        log.warn(`listening on ${options.host}: the local server has no authentication`);
      }
      // Listen for signals before the (slow) start, so a Ctrl-C during startup is not an abrupt exit.
      const signal = stopSignal();
      let server: RunningServer;
      try {
        server = await startServer({
          config,
          store: ctx.store(),
          host: options.host,
          port: options.port,
          log,
          ...(options.model === undefined ? {} : { modelFile: resolve(io.cwd, options.model) }),
        });
      } catch (error) {
        signal.cancel();
        throw error;
      }
      let model: LoadedModel | undefined;
      try {
        const lease = await server.models.acquire();
        model = lease.model;
        lease.release();
      } catch {
        model = undefined;
      }
      printResult(
        io,
        ctx.output,
        {
          url: server.url,
          host: server.host,
          port: server.port,
          model:
            model === undefined
              ? null
              : { version: model.version, sha256: model.sha256, source: model.source },
        },
        (r) => `driftline serve: listening on ${r.url} — ${describeModel(model)}; Ctrl-C stops`,
      );
      const received = await signal.received;
      log.info(`${received}: finishing requests in flight, flushing capture`);
      await server.close();
      log.info('stopped');
    });
}
