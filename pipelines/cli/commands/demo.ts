/**
 * `driftline demo` (what `npm start` runs): the lifecycle on real data, in a workspace folder, through
 * the same code as the commands — nothing is simulated. Versioned data, recorded training runs, the
 * registry and its champion, and the HTTP API served on loopback; each step prints what it did.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { pushDataset, readManifest, resolveVersion } from '../../datasets/datasets.ts';
import { diffManifests } from '../../datasets/diff.ts';
import { DEMO_TARGET, writeFlightsCsv } from '../../demo/flights.ts';
import { FsObjectStore } from '../../local/fs-store.ts';
import { localRegistry } from '../../registry/local-registry.ts';
import { compareRuns } from '../../runs/runs.ts';
import { trainRun } from '../../train/run.ts';
import { commandContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printResult, table } from '../output.ts';
import { renderMetrics } from './fit.ts';
import { initConfig, renderSchema } from './init.ts';
import { startServer } from './serve.ts';

/** March flights sent to the served model. */
const SAMPLE: readonly Record<string, string | number>[] = [
  { hour: 7.25, weekday: 'fri', distance: 733, origin: 'ORD', destination: 'LGA' },
  { hour: 18.5, weekday: 'fri', distance: 1846, origin: 'ORD', destination: 'SFO' },
  { hour: 21.1, weekday: 'sun', distance: 1235, origin: 'DFW', destination: 'SEA' },
  { hour: 9.4, weekday: 'tue', distance: 337, origin: 'SFO', destination: 'LAX' },
  { hour: 16.75, weekday: 'wed', distance: 2475, origin: 'JFK', destination: 'LAX' },
];

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `   ${l}`))
    .join('\n');
}

async function call(
  url: string,
  init?: { method: string; body: unknown },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: init?.method ?? 'GET',
    headers: { 'content-type': 'application/json' },
    ...(init === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Registers `driftline demo`. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run the lifecycle on the bundled real dataset (US flights, Jan–Mar 2001) in a workspace')
    .option('--dir <dir>', 'the demo workspace (default: $DRIFTLINE_HOME/demo)')
    .action(async (options: { dir?: string }, command: Command) => {
      const ctx = commandContext(io, command);
      const dir = options.dir === undefined ? join(ctx.home, 'demo') : resolve(io.cwd, options.dir);
      const storeDir = join(dir, 'store');
      // The demo owns its workspace: every run starts from an empty store and a fresh config.
      await rm(storeDir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const store = new FsObjectStore(storeDir);
      const registry = localRegistry(store);
      const out: string[] = [`Driftline demo — workspace ${dir} (store: ${storeDir})`, ''];
      const say = (line = '') => out.push(line);

      const janFeb = join(dir, 'flights-jan-feb.csv');
      const all = join(dir, 'flights.csv');
      const rowsJanFeb = await writeFlightsCsv(janFeb, '2001-03-01');
      const rowsAll = await writeFlightsCsv(all);
      say(
        `1. data: US domestic flights of Jan–Feb 2001 (${rowsJanFeb}) and Jan–Mar 2001 (${rowsAll}) from vega-datasets`,
      );

      const configPath = join(dir, 'driftline.config.json');
      const schema = await initConfig(configPath, {
        data: all,
        target: DEMO_TARGET,
        name: 'flights-demo',
        force: true,
      });
      // Serving checks for a new champion every 2 s in the demo (60 s by default).
      const config = await loadConfig(configPath, ['api.modelRefreshSeconds=2']);
      say(`2. init: inferred the schema (target "${DEMO_TARGET}": arrived more than 15 min late)`);
      say(indent(renderSchema(schema, configPath)));
      say();

      const first = await pushDataset(store, config, janFeb, { tag: 'jan-feb' });
      say(
        `3. data push: ${first.name}@${first.version.slice(0, 12)} (${first.manifest.rows} rows, tag jan-feb, latest)`,
      );
      const v1 = await trainRun(store, registry, config);
      say(`4. train: run ${v1.run.runId} → model version ${v1.model.version}`);
      if (v1.run.metrics !== undefined) say(indent(renderMetrics(v1.run.metrics)));
      await registry.promote(v1.model.version, 'first model');
      say(`5. models promote ${v1.model.version}: champion`);
      say();

      const server = await startServer({ config, store, port: 0, refreshMs: 2000, captureFlushMs: 200 });
      try {
        say(`6. serve: ${server.url} (the Lambda handler behind node:http)`);
        const predicted = await call(`${server.url}/predict`, {
          method: 'POST',
          body: { instances: SAMPLE },
        });
        const predictions = predicted.body.predictions as {
          predictionId: string;
          label: string;
          probabilities: Record<string, number>;
        }[];
        say(
          indent(
            `POST /predict → ${predicted.status}, model version ${(predicted.body.model as { version: number }).version}`,
          ),
        );
        say(
          indent(
            table(
              ['route', 'weekday', 'hour', 'P(delayed)', 'label'],
              SAMPLE.map((s, i) => [
                `${s.origin}→${s.destination}`,
                s.weekday,
                s.hour,
                (predictions[i]?.probabilities.yes ?? 0).toFixed(3),
                predictions[i]?.label,
              ]),
            ),
          ),
        );
        const feedback = await call(`${server.url}/feedback`, {
          method: 'POST',
          body: {
            feedback: predictions
              .slice(0, 3)
              .map((p, i) => ({ predictionId: p.predictionId, label: i === 1 ? 'yes' : 'no' })),
          },
        });
        say(indent(`POST /feedback (3 ground-truth labels) → ${feedback.status}`));
        const bad = await call(`${server.url}/predict`, {
          method: 'POST',
          body: { instances: [{ hour: 'late', weekday: 'fri' }] },
        });
        say(
          indent(
            `POST /predict with a bad instance → ${bad.status}: ${JSON.stringify((bad.body.error as { details: unknown }).details)}`,
          ),
        );
        say();

        const second = await pushDataset(store, config, all);
        const diff = diffManifests(
          await readManifest(store, first.name, await resolveVersion(store, first.name, 'jan-feb')),
          second.manifest,
        );
        say(
          `7. data push: ${second.name}@${second.version.slice(0, 12)} (${second.manifest.rows} rows, parent ${second.manifest.parent?.slice(0, 12)}); data diff jan-feb latest:`,
        );
        say(
          indent(
            table(
              ['column', 'PSI'],
              diff.columns.map((c) => [c.name, c.psi === null ? '-' : c.psi.toFixed(4)]),
            ),
          ),
        );
        const v2 = await trainRun(store, registry, config);
        say(`8. train: run ${v2.run.runId} → model version ${v2.model.version}`);
        const compared = compareRuns(v1.run, v2.run);
        say(
          indent(
            table(
              ['runs compare', 'v1', 'v2', 'delta'],
              compared.metrics
                .filter((m) => m.name.startsWith('test.'))
                .map((m) => [
                  m.name,
                  Number(m.a).toFixed(4),
                  Number(m.b).toFixed(4),
                  `${(m.delta ?? 0) >= 0 ? '+' : ''}${(m.delta ?? 0).toFixed(4)}`,
                ]),
            ),
          ),
        );
        await registry.promote(v2.model.version, 'trained on Jan–Mar');
        const started = Date.now();
        let served = 0;
        while (Date.now() - started < 15_000) {
          served = ((await call(`${server.url}/model`)).body.version as number) ?? 0;
          if (served === v2.model.version) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        say(
          `9. models promote ${v2.model.version}: the running server swapped to version ${served} after ${((Date.now() - started) / 1000).toFixed(1)} s, without a restart`,
        );
      } finally {
        await server.close();
      }
      let captured = 0;
      for await (const info of store.list('capture/')) captured += info.size > 0 ? 1 : 0;
      say(`10. serve stopped; ${captured} capture file(s) under ${join(storeDir, 'capture')} for monitoring`);
      say();
      say(
        'Not in the demo yet: the Step Functions pipeline and its champion-vs-challenger gate, drift monitoring and retraining.',
      );
      printResult(io, ctx.output, { workspace: dir, store: storeDir, log: out }, () => out.join('\n'));
    });
}
