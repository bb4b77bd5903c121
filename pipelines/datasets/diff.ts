/**
 * `data diff A B`: what changed between two dataset versions — the schema, the row counts, and each
 * column's statistics with its PSI (the distribution shift from A to B, on A's decile bins for
 * numerics and on the categories for categoricals).
 */
import { binShares, psi } from '../drift/psi.ts';
import type { DatasetManifest } from './manifest.ts';
import type { CategoricalColumnStats, ColumnStats, NumericColumnStats } from './stats.ts';

/** A column present in both versions. */
export interface ColumnDiff {
  readonly name: string;
  readonly type: string;
  readonly missingRate: readonly [number, number];
  /** numeric: means; categorical: distinct counts. */
  readonly center: readonly [number | null, number | null];
  /** Population stability index from A to B; ≥ 0.2 is a large shift (DRIFT.md). */
  readonly psi: number | null;
}

/** The whole difference. */
export interface DatasetDiff {
  readonly a: string;
  readonly b: string;
  readonly rows: readonly [number, number];
  readonly schemaChanged: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly retyped: readonly { name: string; from: string; to: string }[];
  readonly columns: readonly ColumnDiff[];
}

function numericPsi(a: NumericColumnStats, b: NumericColumnStats): number | null {
  if (a.sample.length === 0 || b.sample.length === 0) return null;
  const edges = [...new Set(a.deciles)];
  return psi(binShares(edges, a.sample), binShares(edges, b.sample));
}

function categoryShares(stats: CategoricalColumnStats, categories: readonly string[]): number[] {
  const present = stats.count - stats.missing;
  const shares = categories.map((c) => (present === 0 ? 0 : (stats.top[c] ?? 0) / present));
  // Everything not listed (including B's categories A never had) falls in one last bin.
  const listed = shares.reduce((s, v) => s + v, 0);
  return [...shares, Math.max(0, 1 - listed)];
}

function categoricalPsi(a: CategoricalColumnStats, b: CategoricalColumnStats): number | null {
  if (a.count === a.missing || b.count === b.missing) return null;
  const categories = [...new Set([...Object.keys(a.top), ...Object.keys(b.top)])].sort();
  return psi(categoryShares(a, categories), categoryShares(b, categories));
}

function missingRate(s: ColumnStats): number {
  return s.count === 0 ? 0 : s.missing / s.count;
}

/** Compares two manifests. */
export function diffManifests(a: DatasetManifest, b: DatasetManifest): DatasetDiff {
  const typesA = new Map(a.columns.map((c) => [c.name, `${c.role}:${c.type}`]));
  const typesB = new Map(b.columns.map((c) => [c.name, `${c.role}:${c.type}`]));
  const added = [...typesB.keys()].filter((n) => !typesA.has(n));
  const removed = [...typesA.keys()].filter((n) => !typesB.has(n));
  const retyped = [...typesA]
    .filter(([n, t]) => typesB.has(n) && typesB.get(n) !== t)
    .map(([name, from]) => ({ name, from, to: typesB.get(name) as string }));
  const columns: ColumnDiff[] = [];
  for (const name of Object.keys(a.stats)) {
    const sa = a.stats[name];
    const sb = b.stats[name];
    if (sa === undefined || sb === undefined || sa.type !== sb.type) continue;
    if (sa.type === 'numeric' && sb.type === 'numeric') {
      columns.push({
        name,
        type: 'numeric',
        missingRate: [missingRate(sa), missingRate(sb)],
        center: [sa.mean, sb.mean],
        psi: numericPsi(sa, sb),
      });
    } else if (sa.type === 'categorical' && sb.type === 'categorical') {
      columns.push({
        name,
        type: 'categorical',
        missingRate: [missingRate(sa), missingRate(sb)],
        center: [sa.distinct, sb.distinct],
        psi: categoricalPsi(sa, sb),
      });
    }
  }
  return {
    a: a.version,
    b: b.version,
    rows: [a.rows, b.rows],
    schemaChanged: a.schemaHash !== b.schemaHash,
    added,
    removed,
    retyped,
    columns,
  };
}
