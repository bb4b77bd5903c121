/**
 * Gradient histograms: for one tree node, the sum of gradients and hessians of its rows per (feature,
 * bin). Split finding then scans bins instead of rows.
 *
 * Layout: one Float64Array per node, interleaved `[g, h]` pairs; feature `j` occupies slots
 * `offsets[j] .. offsets[j] + slots[j] − 1` (slot 0 of a feature = its missing bin). Sums are float64:
 * millions of float32-sized increments would lose the small gradients that decide late splits.
 *
 * Only the smaller child of a split is built from its rows; the larger one is the parent minus it
 * ({@link subtractHistogram}), which at least halves the work per level.
 */

/**
 * Adds the rows `rowIndex[start..end)` of the features `features` into `hist` (which the caller has
 * zeroed). `gradHess` holds the rows' interleaved gradient and hessian, gathered in the same order
 * (position `i − start`), so the inner loops read it sequentially.
 */
export function buildHistogram(
  hist: Float64Array,
  bins: readonly Uint8Array[],
  offsets: Int32Array,
  features: Int32Array,
  rowIndex: Uint32Array,
  start: number,
  end: number,
  gradHess: Float64Array,
): void {
  const n = end - start;
  const nf = features.length;
  let f = 0;
  // Four features per pass over the rows: the row index and the gradient pair are loaded once for
  // four histogram updates, which is most of the win of a row-major layout without a second copy.
  for (; f + 4 <= nf; f += 4) {
    const j0 = features[f] as number;
    const j1 = features[f + 1] as number;
    const j2 = features[f + 2] as number;
    const j3 = features[f + 3] as number;
    const c0 = bins[j0] as Uint8Array;
    const c1 = bins[j1] as Uint8Array;
    const c2 = bins[j2] as Uint8Array;
    const c3 = bins[j3] as Uint8Array;
    const o0 = (offsets[j0] as number) << 1;
    const o1 = (offsets[j1] as number) << 1;
    const o2 = (offsets[j2] as number) << 1;
    const o3 = (offsets[j3] as number) << 1;
    for (let i = 0; i < n; i++) {
      const r = rowIndex[start + i] as number;
      const g = gradHess[i << 1] as number;
      const h = gradHess[(i << 1) + 1] as number;
      let k = o0 + ((c0[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o1 + ((c1[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o2 + ((c2[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o3 + ((c3[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
    }
  }
  for (; f < nf; f++) {
    const j = features[f] as number;
    const c = bins[j] as Uint8Array;
    const o = (offsets[j] as number) << 1;
    for (let i = 0; i < n; i++) {
      const k = o + ((c[rowIndex[start + i] as number] as number) << 1);
      hist[k] = (hist[k] as number) + (gradHess[i << 1] as number);
      hist[k + 1] = (hist[k + 1] as number) + (gradHess[(i << 1) + 1] as number);
    }
  }
}

/**
 * {@link buildHistogram} for a node holding every row in order (the root without row subsampling):
 * the bins, gradients and hessians are all read sequentially, with no row index and no gather.
 */
export function buildHistogramAllRows(
  hist: Float64Array,
  bins: readonly Uint8Array[],
  offsets: Int32Array,
  features: Int32Array,
  rows: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const nf = features.length;
  let f = 0;
  for (; f + 4 <= nf; f += 4) {
    const j0 = features[f] as number;
    const j1 = features[f + 1] as number;
    const j2 = features[f + 2] as number;
    const j3 = features[f + 3] as number;
    const c0 = bins[j0] as Uint8Array;
    const c1 = bins[j1] as Uint8Array;
    const c2 = bins[j2] as Uint8Array;
    const c3 = bins[j3] as Uint8Array;
    const o0 = (offsets[j0] as number) << 1;
    const o1 = (offsets[j1] as number) << 1;
    const o2 = (offsets[j2] as number) << 1;
    const o3 = (offsets[j3] as number) << 1;
    for (let r = 0; r < rows; r++) {
      const g = grad[r] as number;
      const h = hess[r] as number;
      let k = o0 + ((c0[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o1 + ((c1[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o2 + ((c2[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
      k = o3 + ((c3[r] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
    }
  }
  for (; f < nf; f++) {
    const j = features[f] as number;
    const c = bins[j] as Uint8Array;
    const o = (offsets[j] as number) << 1;
    for (let r = 0; r < rows; r++) {
      const k = o + ((c[r] as number) << 1);
      hist[k] = (hist[k] as number) + (grad[r] as number);
      hist[k + 1] = (hist[k + 1] as number) + (hess[r] as number);
    }
  }
}

/**
 * Gathers the gradient and hessian of the rows `rowIndex[start..end)` into `out` (interleaved, from
 * position 0), the sequential order {@link buildHistogram} reads.
 */
export function gatherGradients(
  grad: Float64Array,
  hess: Float64Array,
  rowIndex: Uint32Array,
  start: number,
  end: number,
  out: Float64Array,
): void {
  for (let i = start, k = 0; i < end; i++, k += 2) {
    const r = rowIndex[i] as number;
    out[k] = grad[r] as number;
    out[k + 1] = hess[r] as number;
  }
}

/** `parent −= child` over the active features' slots: the parent buffer becomes the sibling's histogram. */
export function subtractHistogram(
  parent: Float64Array,
  child: Float64Array,
  offsets: Int32Array,
  slots: Int32Array,
  features: Int32Array,
): void {
  for (let f = 0; f < features.length; f++) {
    const j = features[f] as number;
    const from = (offsets[j] as number) << 1;
    const to = from + ((slots[j] as number) << 1);
    for (let k = from; k < to; k++) parent[k] = (parent[k] as number) - (child[k] as number);
  }
}
