/**
 * Part (c) of the serving benchmark: `driftline serve` under load, against FastAPI + uvicorn serving
 * an XGBoost model of the same size trained on the same rows.
 *
 * Each server runs in its own process on 127.0.0.1 with a free port: the real CLI
 * (`bin/driftline.ts serve --model … --json`, one Node process, capture on as configured) and
 * `bench/serve-fastapi.py` (uvicorn's default single worker). The load comes from wrk (Debian's
 * `wrk`, C, one client thread) — on a 2-core machine, one core generates load while the server under
 * test has the other (the other server is idle meanwhile); a client written in C leaves the server
 * the whole of its core, where a Node one (autocannon, tried first) needed most of its own core to
 * keep up. Both get the same request bodies (held-out instances, one per
 * request, rotated), the same warm-up and the same measured runs, taken in alternating rounds so a
 * burst of background load on the machine does not land on one side only; every server is stopped
 * at the end, also when something fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DRIFTLINE_BIN = fileURLToPath(new URL('../bin/driftline.ts', import.meta.url));
const FASTAPI_SERVER = fileURLToPath(new URL('./serve-fastapi.py', import.meta.url));

/** The one Python interpreter that sees Debian's packages (a pyenv one may come first on PATH). */
export const PYTHON = '/usr/bin/python3';

/** The Lua script that rotates the request bodies and prints wrk's summary as one JSON line. */
const WRK_SCRIPT = fileURLToPath(new URL('./serve-wrk.lua', import.meta.url));

/** What `serve-wrk.lua` prints when a run is done. */
interface WrkSummary {
  readonly requests: number;
  readonly duration_us: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  /** Responses with a status of 400 or more. */
  readonly status: number;
  readonly timeout: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly max_us: number;
}

/** One measured run. */
export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly ok: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly timeouts: number;
}

/** Load settings. */
export interface LoadSettings {
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

/** A server started for the benchmark. */
export interface BenchServer {
  readonly name: string;
  readonly url: string;
  /** What the server reported about itself on start (versions, event loop …). */
  readonly info: Record<string, unknown>;
  readonly child: ChildProcess;
}

/** Stops a server: SIGTERM, then SIGKILL if it has not exited within `graceMs`. Idempotent. */
export async function stopServer(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Spawns a server and waits for its first stdout document (JSON, possibly over several lines).
 * @throws when it exits or says nothing parseable within `timeoutMs`
 */
function spawnServer(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs: number,
): Promise<{ child: ChildProcess; announced: Record<string, unknown> }> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopServer(child, 2_000);
      reject(new Error(`${name}: ${message}${err === '' ? '' : `\n${err.trim().slice(0, 2000)}`}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      if (settled) return;
      try {
        const announced = JSON.parse(out) as Record<string, unknown>;
        settled = true;
        clearTimeout(timer);
        resolve({ child, announced });
      } catch {
        // Not the whole document yet.
      }
    });
    child.stderr?.on('data', (chunk: string) => {
      // Keep the start of stderr for error messages; a server under load may log more.
      if (err.length < 20_000) err += chunk;
    });
    child.on('error', (error) => fail(error.message));
    child.on('exit', (code, signal) => fail(`exited early (${signal ?? code})`));
  });
}

/**
 * Starts `driftline serve` on a free loopback port.
 * @param home `$DRIFTLINE_HOME` (captured traffic is written there)
 */
export async function startDriftline(
  modelFile: string,
  configFile: string,
  home: string,
  timeoutMs = 60_000,
): Promise<BenchServer> {
  const { child, announced } = await spawnServer(
    'driftline serve',
    process.execPath,
    [
      DRIFTLINE_BIN,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--model',
      modelFile,
      '--config',
      configFile,
      '--json',
    ],
    { ...process.env, DRIFTLINE_HOME: home },
    home,
    timeoutMs,
  );
  const url = announced.url;
  if (typeof url !== 'string') {
    await stopServer(child);
    throw new Error(`driftline serve printed no url: ${JSON.stringify(announced)}`);
  }
  return { name: 'driftline serve', url, info: { node: process.version }, child };
}

/**
 * Starts the FastAPI reference on a free loopback port.
 * @param handler `async` (an `async def` endpoint) or `sync` (`def`, FastAPI's thread pool)
 */
export async function startFastapi(
  dataDir: string,
  nthread: number,
  handler: 'async' | 'sync',
  timeoutMs = 60_000,
): Promise<BenchServer> {
  const { child, announced } = await spawnServer(
    'fastapi',
    PYTHON,
    [FASTAPI_SERVER, dataDir, String(nthread), handler],
    { ...process.env, OMP_NUM_THREADS: String(nthread) },
    dataDir,
    timeoutMs,
  );
  const port = announced.port;
  if (typeof port !== 'number') {
    await stopServer(child);
    throw new Error(`the FastAPI server printed no port: ${JSON.stringify(announced)}`);
  }
  return { name: 'fastapi', url: `http://127.0.0.1:${port}`, info: announced, child };
}

/** Posts `body` to `/predict` until a 200 comes back. @returns the parsed answer */
export async function waitReady(server: BenchServer, body: string, timeoutMs = 30_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      if (response.status === 200) return JSON.parse(text) as unknown;
      last = `HTTP ${response.status}: ${text.slice(0, 500)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${server.name} is not answering /predict: ${last}`);
}

/** The wrk binary (Debian package `wrk`). */
export const WRK = '/usr/bin/wrk';

/**
 * One wrk run: one client thread, `connections` keep-alive connections, each request the next body of
 * the rotation (`serve-wrk.lua`).
 */
async function fire(
  url: string,
  bodies: readonly string[],
  connections: number,
  seconds: number,
): Promise<WrkSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-wrk-'));
  try {
    const bodiesFile = join(dir, 'bodies.txt');
    // One body per line: the bodies are single-line JSON.
    writeFileSync(bodiesFile, `${bodies.join('\n')}\n`);
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url];
    const child = spawn(WRK, args, {
      env: { ...process.env, BODIES: bodiesFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
    if (code !== 0 || line === undefined) {
      throw new Error(`wrk failed (exit ${code}): ${(err || out).trim().slice(0, 2000)}`);
    }
    return JSON.parse(line) as WrkSummary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A warm-up run, discarded. */
export async function warmUp(
  server: BenchServer,
  bodies: readonly string[],
  settings: LoadSettings,
): Promise<void> {
  await fire(server.url, bodies, settings.connections, settings.warmupSeconds);
}

/** One measured run. */
export async function measureLoad(
  server: BenchServer,
  bodies: readonly string[],
  settings: LoadSettings,
): Promise<LoadResult> {
  const r = await fire(server.url, bodies, settings.connections, settings.seconds);
  const errors = r.connect + r.read + r.write;
  return {
    requestsPerSecond: r.requests / (r.duration_us / 1e6),
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    maxMs: r.max_us / 1000,
    ok: r.requests - r.status,
    errors,
    non2xx: r.status,
    timeouts: r.timeout,
  };
}
