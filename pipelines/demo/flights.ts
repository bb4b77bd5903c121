/**
 * The demo dataset: 20,000 real US domestic flights from January to March 2001, shipped in the
 * `vega-datasets` npm package. Each flight becomes one row with its departure time, weekday, distance,
 * origin and destination, labelled `delayed` when it arrived more than 15 minutes late (about 22% of
 * flights). The months differ (winter weather, traffic), which gives the later monitoring steps natural
 * drift to find.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';

interface VegaFlight {
  readonly date: string;
  readonly delay: number;
  readonly distance: number;
  readonly origin: string;
  readonly destination: string;
}

/** Delay in minutes above which a flight counts as delayed (the US DOT definition). */
export const DELAY_THRESHOLD_MINUTES = 15;
export const DEMO_TARGET = 'delayed';
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Absolute path of `flights-20k.json` inside the installed vega-datasets package. */
export function flightsSourceFile(): string {
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  return join(dirname(dirname(entry)), 'data', 'flights-20k.json');
}

/**
 * Writes the demo CSV to `file`: `departure,hour,weekday,distance,origin,destination,delayed`.
 * @param before only flights that departed before this ISO date (e.g. `2001-03-01`), when given
 * @returns the number of rows written
 */
export async function writeFlightsCsv(file: string, before?: string): Promise<number> {
  const all = JSON.parse(await readFile(flightsSourceFile(), 'utf8')) as VegaFlight[];
  const cutoff = before?.replaceAll('-', '/');
  const flights = cutoff === undefined ? all : all.filter((f) => f.date < cutoff);
  const out = createWriteStream(file);
  out.write('departure,hour,weekday,distance,origin,destination,delayed\n');
  for (const f of flights) {
    // "2001/01/01 00:47" is local airport time; keep it as an ISO local timestamp.
    const [day = '', time = '00:00'] = f.date.split(' ');
    const [y, m, d] = day.split('/').map(Number);
    const [hh, mm] = time.split(':').map(Number);
    const weekday = WEEKDAYS[new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1)).getUTCDay()];
    const hour = ((hh ?? 0) + (mm ?? 0) / 60).toFixed(2);
    const line = `${day.replaceAll('/', '-')}T${time},${hour},${weekday},${f.distance},${f.origin},${f.destination},${
      f.delay > DELAY_THRESHOLD_MINUTES ? 'yes' : 'no'
    }\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
  return flights.length;
}
