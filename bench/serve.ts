/**
 * Benchmark: serving. Three tables from one run, each side by side with its reference.
 *
 * (a) Handler overhead — the predict handler (API Gateway event → JSON response) against a bare
 *     `OnnxModel.run` on the same session and inputs, at batch 1, 100 and 1000.
 * (b) Cold start — spawn of a fresh Node process → its answer to the first `/predict` (champion
 *     pointer, sha256 check, session, request), for a ~1 MB and a ~20 MB model; with the in-process
 *     breakdown.
 * (c) `driftline serve` under load (wrk, 50 connections) against FastAPI + uvicorn serving
 *     an XGBoost model of the same size trained on the same rows.
 *
 * Data: 200 000 real flights (vega-datasets' flights-3m, every 15th row; see `serve-data.ts`), models
 * trained here with Driftline's GBDT trainer and exported with `exportOnnx`; XGBoost 1.7 trains on the
 * same encoded matrix. Needs `apt-get install -y --no-install-recommends wrk python3-fastapi
 * python3-uvicorn python3-xgboost` (and, for uvicorn's fast paths, python3-uvloop python3-httptools);
 * without Python the FastAPI column is skipped; without wrk, part (c) stops with how to install it.
 *
 * Usage: node bench/serve.ts [--quick] [--seconds N] [--parts abc]
 *   --quick      fewer iterations, no 20 MB model, 5 s load rounds (a smoke run; numbers are rougher)
 *   --seconds N  length of one measured load round (default 10); each server gets a 2 s warm-up, then
 *                3 rounds, alternating between the servers
 *   --parts P    which parts to run, e.g. `ac` (default `abc`)
 *
 * Temporary files live in one folder under os.tmpdir(), removed at the end.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from '../pipelines/cli/output.ts';
import { rocAuc } from '../pipelines/evaluate/metrics.ts';
import type { RawRow } from '../pipelines/model/raw.ts';
import {
  bundleColdChild,
  type ColdCode,
  type ColdRun,
  measureColdStart,
  prepareColdStore,
  sourcesColdChild,
} from './serve-cold.ts';
import {
  type BenchModel,
  benchConfig,
  benchConfigInput,
  type FlightsData,
  gbdtParams,
  loadFlights,
  testScores,
  trainBenchModel,
  writeXgboostInputs,
} from './serve-data.ts';
import {
  type BenchServer,
  type LoadResult,
  measureLoad,
  PYTHON,
  startDriftline,
  startFastapi,
  stopServer,
  WRK,
  waitReady,
  warmUp,
} from './serve-load.ts';
import { measureOverhead, type StepTimes } from './serve-overhead.ts';
import { median } from './stats.ts';

const XGBOOST_TRAINER = fileURLToPath(new URL('./serve-xgboost.py', import.meta.url));

/** Model sizes: trees and depth chosen so the exports land near 1 MB and 20 MB on this data. */
const SMALL = { label: '~1 MB', trees: 125, depth: 8 };
const LARGE = { label: '~20 MB', trees: 700, depth: 12 };

const TARGETS = {
  overheadBatch1Us: 50,
  overheadBatch1000Pct: 10,
  coldStart1MbMs: 300,
  throughputRatio: 3,
};

interface Options {
  readonly quick: boolean;
  readonly seconds: number;
  readonly parts: string;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let seconds: number | undefined;
  let parts = 'abc';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--seconds') seconds = Number(argv[++i]);
    else if (arg === '--parts') parts = argv[++i] ?? '';
    else
      throw new Error(
        `unknown argument ${arg}; usage: node bench/serve.ts [--quick] [--seconds N] [--parts abc]`,
      );
  }
  if (seconds !== undefined && !(seconds >= 1 && seconds <= 120)) throw new Error('--seconds takes 1 to 120');
  if (!/^[abc]+$/.test(parts)) throw new Error('--parts takes letters among a, b, c');
  return { quick, seconds: seconds ?? (quick ? 5 : 10), parts };
}

const us = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

function hasPython(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import fastapi, uvicorn, xgboost'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function machine(): string {
  const [one, five] = loadavg();
  return `load average ${one?.toFixed(2)} / ${five?.toFixed(2)} (1 / 5 min)`;
}

async function partA(model: BenchModel, rows: readonly RawRow[], quick: boolean): Promise<void> {
  const results = await measureOverhead(model.bytes, benchConfig(), rows, [1, 100, 1000], quick ? 0.2 : 1);
  console.log(
    `\n(a) Handler overhead — ${model.label} model (${mb(model.bytes.length)}, ${model.trees} trees, depth ${model.params.maxDepth}); medians, µs per request\n`,
  );
  console.log(
    table(
      [
        'batch',
        'iterations',
        'reference: bare OnnxModel.run',
        'Driftline: full handler',
        'overhead µs',
        'overhead %',
        'per instance µs',
        'JSON in+out alone µs',
        'target',
        'met?',
      ],
      results.map((r) => {
        const overhead = r.handlerUs - r.bareUs;
        const pct = (overhead / r.bareUs) * 100;
        const target =
          r.batch === 1
            ? { text: `≤ ${TARGETS.overheadBatch1Us} µs`, met: overhead <= TARGETS.overheadBatch1Us }
            : r.batch === 1000
              ? { text: `≤ ${TARGETS.overheadBatch1000Pct} %`, met: pct <= TARGETS.overheadBatch1000Pct }
              : undefined;
        return [
          r.batch,
          r.iterations,
          us(r.bareUs),
          us(r.handlerUs),
          us(overhead),
          `${pct.toFixed(1)} %`,
          us(overhead / r.batch),
          `${us(r.jsonUs)} (${((r.jsonUs / r.bareUs) * 100).toFixed(0)} %)`,
          target?.text ?? '—',
          target === undefined ? '—' : verdict(target.met),
        ];
      }),
    ),
  );
  console.log(
    'Handler path: proxy event with a JSON body → middy → body checks, the instances read and validated from the\n' +
      'text (the fast path; JSON.parse + zod for anything else), feeds, the same run, prediction ids, capture record →\n' +
      "the Lambda's capture log line (written out, then dropped), JSON response; no-op metrics and log. Each iteration\n" +
      'times both sides back to back, alternating which goes first. JSON in+out alone: JSON.parse of the request body\n' +
      'plus JSON.stringify of the response value, what a handler built on them pays for that alone (in % of the bare run).',
  );
  console.log(
    `\nWhere the overhead goes — the main steps timed alone on the same bodies, right after a run of the model / at once\nagain (µs):\n${table(
      ['batch', 'overhead', 'read + validate body', 'write predictions + ids', 'capture line', 'rest'],
      results.map((r) => {
        const { read, write, capture } = r.steps;
        const overhead = r.handlerUs - r.bareUs;
        const pair = (t: StepTimes): string => `${us(t.afterRun)} / ${us(t.warm)}`;
        return [
          r.batch,
          us(overhead),
          pair(read),
          pair(write),
          pair(capture),
          us(overhead - read.warm - write.warm - capture.warm),
        ];
      }),
    )}\nA run of this model evicts much of what the handler uses from the CPU's caches (its trees fill a core's L2), so a\n` +
      'step right after one pays cache misses that the same step repeated at once does not; in the handler each step\n' +
      'runs with a cache somewhere between the two. rest = overhead − the three steps warm: middy and the event mapping,\n' +
      'feeds, the model lease and batching, metrics, the garbage collection the steps cause, and the cache misses.',
  );
}

async function partB(models: readonly BenchModel[], row: RawRow, dir: string, runs: number): Promise<void> {
  const codes = [
    sourcesColdChild(join(dir, 'cold-sources')),
    await bundleColdChild(join(dir, 'cold-bundle')),
  ];
  const measured: { model: BenchModel; code: ColdCode; runs: ColdRun[] }[] = [];
  for (const model of models) {
    const scenario = join(dir, `cold-${model.trees}-${model.params.maxDepth}`);
    mkdirSync(scenario, { recursive: true });
    const setup = await prepareColdStore(scenario, model.bytes, benchConfigInput(), row);
    for (const code of codes) measured.push({ model, code, runs: await measureColdStart(setup, code, runs) });
  }
  console.log(
    `\n(b) Cold start — fresh Node ${process.version} process → first /predict answered; medians of ${runs} runs, ms\n`,
  );
  const m = (runsOf: ColdRun[], pick: (r: ColdRun) => number): number => median(runsOf.map(pick));
  console.log(
    table(
      [
        'model',
        'code',
        'spawn → answer',
        'boot',
        'import',
        'model read',
        'sha256',
        'ONNX decode',
        'session create',
        'first run',
        'rest',
        'target',
        'met?',
      ],
      measured.map(({ model, code, runs: r }) => {
        const total = m(r, (x) => x.spawnToAnswer);
        const target =
          model === models[0]
            ? { text: `≤ ${TARGETS.coldStart1MbMs} ms`, met: total <= TARGETS.coldStart1MbMs }
            : undefined;
        return [
          `${model.label} (${mb(model.bytes.length)})`,
          code.label,
          ms(total),
          ms(m(r, (x) => x.boot)),
          ms(m(r, (x) => x.import)),
          ms(m(r, (x) => x.read)),
          ms(m(r, (x) => x.sha256)),
          ms(m(r, (x) => x.decode)),
          ms(m(r, (x) => x.session)),
          ms(m(r, (x) => x.firstRun)),
          ms(m(r, (x) => x.rest)),
          target?.text ?? '—',
          target === undefined ? '—' : verdict(target.met),
        ];
      }),
    ),
  );
  console.log(
    "code: TS sources = type-stripped .ts files with V8's compile cache warm (driftline serve, whose command enables\n" +
      "it); esbuild bundle = DriftlineFunction's bundling (CJS, minified, source map + --enable-source-maps,\n" +
      'onnxruntime external) = what the Lambda loads, with no compile cache (a new Lambda environment has none).\n' +
      'boot: Node start-up + loading the script; import: create-handler, model source, store, config loader,\n' +
      'onnxruntime-node, onnx-proto; model read: champion pointer + model bytes from the local store; sha256: every\n' +
      'hash on the path (pointer check, OnnxModel); ONNX decode: full protobufjs decodes of the model\n' +
      '(readOnnxMetadata in OnnxModel.load); rest: config load, category scan, validation, JSON, promises.\n' +
      "Reference for this part: the target (Lambda's own init is not included; no Python cold start is measured).",
  );
}

interface LoadSide {
  readonly name: string;
  readonly detail: string;
  readonly server: BenchServer;
  readonly rounds: LoadResult[];
}

/** Medians over the rounds; counts summed. */
function combine(rounds: readonly LoadResult[]): LoadResult {
  const sum = (pick: (r: LoadResult) => number): number => rounds.reduce((acc, r) => acc + pick(r), 0);
  return {
    requestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    maxMs: Math.max(...rounds.map((r) => r.maxMs)),
    ok: sum((r) => r.ok),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    timeouts: sum((r) => r.timeouts),
  };
}

async function partC(
  model: BenchModel,
  data: FlightsData,
  dir: string,
  seconds: number,
  python: boolean,
): Promise<void> {
  if (!existsSync(WRK)) {
    throw new Error(`part (c) needs wrk: apt-get install -y --no-install-recommends wrk (${WRK} not found)`);
  }
  const settings = { connections: 50, warmupSeconds: 2, seconds };
  const rounds = 3;
  const bodies = data.testRows.slice(0, 500).map((row) => JSON.stringify({ instances: [row] }));
  const home = join(dir, 'serve-home');
  mkdirSync(home, { recursive: true });
  const modelFile = join(dir, 'model.onnx');
  writeFileSync(modelFile, model.bytes);
  const configFile = join(home, 'driftline.config.json');
  writeFileSync(configFile, JSON.stringify(benchConfigInput(), null, 2));

  const driftlineAuc = rocAuc(data.testLabels, await testScores(model.bytes, data));
  let xgb: { trees: number; nodes: number; bytes: number; seconds: number } | undefined;
  let xgbAuc: number | undefined;
  const xgbDir = join(dir, 'xgboost');
  if (python) {
    writeXgboostInputs(xgbDir, data, model.params);
    xgb = JSON.parse(execFileSync(PYTHON, [XGBOOST_TRAINER, xgbDir], { encoding: 'utf8' })) as typeof xgb;
    const scores = new Float32Array(new Uint8Array(readFileSync(join(xgbDir, 'test-scores.f32'))).buffer);
    xgbAuc = rocAuc(data.testLabels, scores);
  }

  const sides: LoadSide[] = [];
  try {
    const driftline = await startDriftline(modelFile, configFile, home);
    sides.push({
      name: 'Driftline: driftline serve',
      detail: `Node ${process.version}, 1 process`,
      server: driftline,
      rounds: [],
    });
    checkShape(await waitReady(driftline, bodies[0] as string));
    if (python) {
      const fastapi = await startFastapi(xgbDir, 1, 'async');
      const info = fastapi.info as { loop?: string; http?: string; versions?: Record<string, string> };
      const v = info.versions ?? {};
      sides.push({
        name: 'reference: FastAPI + uvicorn',
        detail: `FastAPI ${v.fastapi}, uvicorn ${v.uvicorn} (${info.loop}, ${info.http}), pydantic ${v.pydantic}, 1 worker`,
        server: fastapi,
        rounds: [],
      });
      checkShape(await waitReady(fastapi, bodies[0] as string));
    }
    for (const side of sides) await warmUp(side.server, bodies, settings);
    for (let round = 0; round < rounds; round++) {
      for (const side of sides) side.rounds.push(await measureLoad(side.server, bodies, settings));
    }
  } finally {
    await Promise.all(sides.map((side) => stopServer(side.server.child)));
  }

  console.log(
    `\n(c) Under load — wrk (1 thread), ${settings.connections} connections, batch-1 POST /predict, 500 held-out instances rotated;\n` +
      `${settings.warmupSeconds} s warm-up each, then ${rounds} rounds of ${settings.seconds} s per server, alternating; medians of the rounds\n`,
  );
  const results = sides.map((side) => combine(side.rounds));
  console.log(
    table(
      [
        'server',
        'model',
        'test AUC',
        'req/s',
        'rounds req/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        '2xx',
        'errors',
        'non-2xx',
        'timeouts',
      ],
      sides.map((side, i) => {
        const r = results[i] as LoadResult;
        const what =
          i === 0
            ? `Driftline GBDT → ONNX, ${model.trees} trees, ${model.nodes} nodes, ${mb(model.bytes.length)}`
            : `XGBoost ${xgb?.trees} trees, ${xgb?.nodes} nodes, ${mb(xgb?.bytes ?? 0)} JSON`;
        const quality = i === 0 ? driftlineAuc : xgbAuc;
        return [
          side.name,
          what,
          quality?.toFixed(4) ?? '—',
          r.requestsPerSecond.toFixed(0),
          side.rounds.map((x) => x.requestsPerSecond.toFixed(0)).join(' / '),
          r.p50Ms,
          r.p99Ms,
          r.maxMs,
          r.ok,
          r.errors,
          r.non2xx,
          r.timeouts,
        ];
      }),
    ),
  );
  console.log('');
  const driftline = results[0];
  const reference = results[1];
  if (driftline !== undefined && reference !== undefined) {
    const ratio = driftline.requestsPerSecond / reference.requestsPerSecond;
    const failures = (r: LoadResult): number => r.errors + r.non2xx + r.timeouts;
    console.log(
      table(
        ['target', 'Driftline', 'reference', 'ratio', 'met?'],
        [
          [
            `req/s ≥ ${TARGETS.throughputRatio}× FastAPI`,
            driftline.requestsPerSecond.toFixed(0),
            reference.requestsPerSecond.toFixed(0),
            `${ratio.toFixed(2)}×`,
            verdict(ratio >= TARGETS.throughputRatio),
          ],
          [
            'p99 lower than FastAPI',
            `${driftline.p99Ms} ms`,
            `${reference.p99Ms} ms`,
            `${(driftline.p99Ms / reference.p99Ms).toFixed(2)}×`,
            verdict(driftline.p99Ms < reference.p99Ms),
          ],
          [
            'zero errors / non-2xx',
            `${failures(driftline)}`,
            `${failures(reference)}`,
            '—',
            verdict(failures(driftline) === 0),
          ],
        ],
      ),
    );
  } else if (!python) {
    console.log(
      'FastAPI column skipped: /usr/bin/python3 with fastapi, uvicorn and xgboost is not installed.',
    );
  }
  for (const side of sides) console.log(`${side.name}: ${side.detail}`);
  console.log(
    'Both servers are one process on a 2-core machine, with wrk on the other core. driftline serve runs as\n' +
      'shipped: validation, capture sampled at the config default (1.0) and written to $DRIFTLINE_HOME every second,\n' +
      'requests waiting for the model at the same moment scored together in one run (dynamic batching).\n' +
      'FastAPI: pydantic request model, categories mapped with the training codes, Booster.inplace_predict, nthread=1,\n' +
      'async endpoint, access log off — its fastest setup of those tried (a sync `def` endpoint and nthread=2 were slower).',
  );
}

/** Fails loudly when a server's answer is not the agreed shape, so no table compares unlike things. */
function checkShape(answer: unknown): void {
  const a = answer as {
    predictions?: { predictionId?: unknown; label?: unknown; probabilities?: unknown }[];
    model?: { sha256?: unknown };
  };
  const p = a.predictions?.[0];
  if (
    a.predictions?.length !== 1 ||
    typeof p?.predictionId !== 'string' ||
    typeof p.label !== 'string' ||
    typeof p.probabilities !== 'object' ||
    typeof a.model?.sha256 !== 'string'
  ) {
    throw new Error(`unexpected /predict answer: ${JSON.stringify(answer).slice(0, 500)}`);
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'driftline-bench-serve-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    console.log(`Serving benchmark — ${machine()}, Node ${process.version}`);
    const started = performance.now();
    const data = await loadFlights();
    const small = trainBenchModel(data, SMALL.label, gbdtParams(SMALL.trees, SMALL.depth));
    const models = [small];
    if (!options.quick && options.parts.includes('b')) {
      models.push(trainBenchModel(data, LARGE.label, gbdtParams(LARGE.trees, LARGE.depth)));
    }
    console.log(
      `Data: ${data.trainRows.length} training / ${data.testRows.length} held-out flights; models: ${models
        .map(
          (m) =>
            `${m.label} = ${mb(m.bytes.length)} (${m.trees} trees, depth ${m.params.maxDepth}, ${m.nodes} nodes, trained in ${m.trainSeconds.toFixed(1)} s)`,
        )
        .join('; ')}; prepared in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    if (options.parts.includes('a')) await partA(small, data.testRows, options.quick);
    if (options.parts.includes('b')) {
      const first = data.testRows[0];
      if (first === undefined) throw new Error('no held-out rows');
      await partB(models, first, dir, 5);
    }
    if (options.parts.includes('c')) await partC(small, data, dir, options.seconds, hasPython());
    console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s — ${machine()}`);
  } finally {
    cleanup();
  }
}

await main();
