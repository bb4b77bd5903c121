/** Population stability index and Jensen–Shannon distance between two binned distributions. */
import { binIndex } from './baseline.ts';

/** Shares below this are raised to it, so an empty bin does not make PSI infinite (DRIFT.md). */
export const PSI_EPSILON = 1e-4;

/** PSI = Σ (cur − ref) · ln(cur / ref), over bins given as shares (each summing to 1). */
export function psi(reference: readonly number[], current: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < reference.length; i += 1) {
    const r = Math.max(reference[i] ?? 0, PSI_EPSILON);
    const c = Math.max(current[i] ?? 0, PSI_EPSILON);
    total += (c - r) * Math.log(c / r);
  }
  return total;
}

/** Jensen–Shannon distance (natural log; the square root of the divergence), in [0, √ln 2]. */
export function jsDistance(reference: readonly number[], current: readonly number[]): number {
  let divergence = 0;
  for (let i = 0; i < reference.length; i += 1) {
    const p = reference[i] ?? 0;
    const q = current[i] ?? 0;
    const m = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log(p / m);
    if (q > 0) divergence += 0.5 * q * Math.log(q / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}

/** Shares of `values` in the bins of `edges` (bin i covers [edges[i−1], edges[i])). */
export function binShares(edges: readonly number[], values: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    const b = binIndex(edges, v);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts.map((c) => (values.length === 0 ? 0 : c / values.length));
}
