/**
 * Split finding on one node's histogram, with XGBoost's second-order gain:
 *
 *   gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ),   both children need H ≥ minChildWeight,
 *
 * and a split is kept only when its gain exceeds {@link MIN_SPLIT_GAIN}.
 *
 * Missing values: every threshold is tried twice, with the node's missing rows (bin 0) sent left and
 * sent right, and the better one becomes the node's learned default direction. A threshold below
 * every value with missing sent left splits "missing vs present". When the node has no missing rows
 * both directions score the same, and missing values met later go to the child that saw more training
 * weight (the safer guess for a value the node never saw).
 */

/** Gains at or below this are treated as no improvement (XGBoost's kRtEps). */
export const MIN_SPLIT_GAIN = 1e-6;

/** The best split of a node: send bins `< bin` left (bin 0, missing, goes as `missingLeft` says). */
export interface SplitCandidate {
  gain: number;
  feature: number;
  /** 1..slots−1; 1 means only missing values go left. */
  bin: number;
  missingLeft: boolean;
  gradLeft: number;
  hessLeft: number;
  gradRight: number;
  hessRight: number;
}

/**
 * Scans every active feature's bins and returns the best split of a node with gradient sum `grad`
 * and hessian sum `hess`, or null when no split gains more than {@link MIN_SPLIT_GAIN}.
 */
export function findBestSplit(
  hist: Float64Array,
  offsets: Int32Array,
  slots: Int32Array,
  features: Int32Array,
  grad: number,
  hess: number,
  lambda: number,
  minChildWeight: number,
): SplitCandidate | null {
  const parentScore = (grad * grad) / (hess + lambda);
  let bestGain = MIN_SPLIT_GAIN;
  let bestFeature = -1;
  let bestBin = 0;
  let bestMissingLeft = false;
  let bestGL = 0;
  let bestHL = 0;
  for (let f = 0; f < features.length; f++) {
    const j = features[f] as number;
    const o = (offsets[j] as number) << 1;
    const valueBins = (slots[j] as number) - 1;
    const gm = hist[o] as number;
    const hm = hist[o + 1] as number;
    const hasMissing = hm > 0;
    let gl = 0;
    let hl = 0;
    // t = number of value bins on the left (bins 1..t); the split bin is t + 1.
    for (let t = 0; t < valueBins; t++) {
      if (t > 0) {
        gl += hist[o + 2 * t] as number;
        hl += hist[o + 2 * t + 1] as number;
      }
      // Missing sent right (or, with no missing rows, the one candidate).
      if (t > 0) {
        const hr = hess - hl;
        if (hl >= minChildWeight && hr >= minChildWeight) {
          const gr = grad - gl;
          const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = j;
            bestBin = t + 1;
            bestMissingLeft = !hasMissing && hl >= hr;
            bestGL = gl;
            bestHL = hl;
          }
        }
      }
      if (!hasMissing) continue;
      // Missing sent left.
      const gL = gl + gm;
      const hL = hl + hm;
      const hr = hess - hL;
      if (hL >= minChildWeight && hr >= minChildWeight) {
        const gr = grad - gL;
        const gain = (gL * gL) / (hL + lambda) + (gr * gr) / (hr + lambda) - parentScore;
        if (gain > bestGain) {
          bestGain = gain;
          bestFeature = j;
          bestBin = t + 1;
          bestMissingLeft = true;
          bestGL = gL;
          bestHL = hL;
        }
      }
    }
  }
  if (bestFeature < 0) return null;
  return {
    gain: bestGain,
    feature: bestFeature,
    bin: bestBin,
    missingLeft: bestMissingLeft,
    gradLeft: bestGL,
    hessLeft: bestHL,
    gradRight: grad - bestGL,
    hessRight: hess - bestHL,
  };
}
