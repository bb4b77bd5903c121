/**
 * Growing one regression tree on binned data, depth-wise up to `maxDepth`.
 *
 * Nodes are expanded depth-first. With no limit on the number of leaves, a node's split depends only
 * on its own rows, so this grows exactly the tree a level-by-level pass would, while keeping at most
 * one histogram per pending node alive: a fixed pool of maxDepth + 3 buffers (a few MB even at
 * depth 16).
 *
 * Each node owns a contiguous range of `rowIndex`; a split partitions that range in place (stably,
 * so rows stay in increasing order and reads of the column-major bins stay cache-friendly). Only the
 * smaller child's histogram is built from rows; the larger child's is the parent's minus it. Nodes
 * that cannot be split further (at `maxDepth`, or too light for two children of `minChildWeight`)
 * get no histogram at all.
 *
 * Leaf weight: −G/(H+λ) × learningRate, rounded to float32 (the precision of the ONNX tree ensemble),
 * so the scores used while training are the ones the exported model reproduces.
 */
import type { Tree } from '../../model/types.ts';
import { type BinnedMatrix, binThreshold } from './binning.ts';
import { subtractHistogram } from './histogram.ts';
import {
  float64Buffer,
  type HistogramBuilder,
  singleThreadBuilder,
  threadedBuilder,
  uint32Buffer,
} from './histogram-threads.ts';
import { findBestSplit } from './split.ts';

/** The tree-shape parameters growth needs. */
export interface GrowParams {
  readonly maxDepth: number;
  readonly minChildWeight: number;
  readonly lambda: number;
  readonly learningRate: number;
}

/**
 * Buffers reused across trees: allocated once per training run (shared with the histogram workers
 * when there are any), so growing a tree allocates only its own small output arrays.
 */
export interface GrowWorkspace {
  readonly binned: BinnedMatrix;
  /** First slot of each feature in a histogram. */
  readonly offsets: Int32Array;
  /** Row ids of the tree's rows; partitioned in place per node. */
  readonly rowIndex: Uint32Array;
  /** Partition scratch, as long as rowIndex. */
  readonly scratch: Uint32Array;
  /** Per-row gradients and hessians, output-major (`outputs × rows`), filled by the objective. */
  readonly grad: Float64Array;
  readonly hess: Float64Array;
  /** Builds histograms into its fixed buffer pool. */
  readonly builder: HistogramBuilder;
  /** Ids of the free histogram buffers. */
  readonly free: number[];
}

/** A grown tree and where its training rows ended up. */
export interface GrownTree {
  readonly tree: Tree;
  /** Triples (node, start, end): the leaf `node` holds `rowIndex[start..end)`. */
  readonly leafRanges: Int32Array;
}

/**
 * A workspace for a binned matrix with `outputs` gradient columns, for trees up to `maxDepth`, building
 * histograms on `threads` threads (the bins must then be on a SharedArrayBuffer).
 */
export function createWorkspace(
  binned: BinnedMatrix,
  outputs: number,
  maxDepth: number,
  threads: number,
): GrowWorkspace {
  const shared = threads > 1;
  const offsets = new Int32Array(binned.slots.length);
  let total = 0;
  for (let j = 0; j < binned.slots.length; j++) {
    offsets[j] = total;
    total += binned.slots[j] as number;
  }
  // Depth-first growth keeps at most one pending sibling per level plus the node being split and
  // its new child, so maxDepth + 2 buffers suffice; one spare.
  const hists = Array.from({ length: maxDepth + 3 }, () => float64Buffer(2 * total, shared));
  const buffers = {
    bins: binned.bins,
    offsets,
    rowIndex: uint32Buffer(binned.rows, shared),
    gradHess: float64Buffer(2 * binned.rows, shared),
    hists,
    grad: float64Buffer(outputs * binned.rows, shared),
    hess: float64Buffer(outputs * binned.rows, shared),
  };
  return {
    binned,
    offsets,
    rowIndex: buffers.rowIndex,
    scratch: new Uint32Array(binned.rows),
    grad: buffers.grad,
    hess: buffers.hess,
    builder: shared ? threadedBuilder(buffers, threads) : singleThreadBuilder(buffers),
    free: hists.map((_, id) => hists.length - 1 - id),
  };
}

interface PendingNode {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  readonly depth: number;
  readonly grad: number;
  readonly hess: number;
  /** Id of the node's histogram, −1 when the node cannot split (none was built). */
  readonly hist: number;
}

/**
 * Grows one tree on the rows `ws.rowIndex[0..rowCount)` (the round's row sample, in increasing order)
 * with per-row gradients `grad`/`hess` (indexed by row id), using only the features in `features`.
 */
export function growTree(
  ws: GrowWorkspace,
  rowCount: number,
  grad: Float64Array,
  hess: Float64Array,
  features: Int32Array,
  params: GrowParams,
): GrownTree {
  const { binned, offsets, rowIndex, builder } = ws;
  const { maxDepth, minChildWeight, lambda, learningRate } = params;
  const featureIndex: number[] = [];
  const threshold: number[] = [];
  const missingLeft: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const leafValue: number[] = [];
  const leafRanges: number[] = [];
  const addNode = (): number => {
    featureIndex.push(-1);
    threshold.push(0);
    missingLeft.push(0);
    left.push(-1);
    right.push(-1);
    leafValue.push(0);
    return left.length - 1;
  };
  const canSplit = (depth: number, h: number, rows: number): boolean =>
    depth < maxDepth && rows >= 2 && h >= 2 * minChildWeight;

  const root = addNode();
  let rootGrad = 0;
  let rootHess = 0;
  let rootHist = -1;
  if (maxDepth >= 1 && rowCount >= 2) {
    rootHist = acquire(ws);
    builder.build(rootHist, features, 0, rowCount, rowCount === binned.rows, grad, hess);
    // Every row falls in exactly one slot of any feature, so one feature's slots sum to the node's totals.
    const hist = builder.hists[rootHist] as Float64Array;
    const first = features[0] as number;
    const from = (offsets[first] as number) << 1;
    const to = from + ((binned.slots[first] as number) << 1);
    for (let k = from; k < to; k += 2) {
      rootGrad += hist[k] as number;
      rootHess += hist[k + 1] as number;
    }
    if (!canSplit(0, rootHess, rowCount)) {
      ws.free.push(rootHist);
      rootHist = -1;
    }
  } else {
    for (let i = 0; i < rowCount; i++) {
      const r = rowIndex[i] as number;
      rootGrad += grad[r] as number;
      rootHess += hess[r] as number;
    }
  }
  const stack: PendingNode[] = [
    { id: root, start: 0, end: rowCount, depth: 0, grad: rootGrad, hess: rootHess, hist: rootHist },
  ];

  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const split =
      node.hist < 0
        ? null
        : findBestSplit(
            builder.hists[node.hist] as Float64Array,
            offsets,
            binned.slots,
            features,
            node.grad,
            node.hess,
            lambda,
            minChildWeight,
          );
    if (split === null) {
      const denominator = node.hess + lambda;
      leafValue[node.id] = denominator > 0 ? Math.fround((-node.grad / denominator) * learningRate) : 0;
      leafRanges.push(node.id, node.start, node.end);
      if (node.hist >= 0) ws.free.push(node.hist);
      continue;
    }
    const parentHist = node.hist;
    const mid = partition(ws, node.start, node.end, split.feature, split.bin, split.missingLeft);
    const leftId = addNode();
    const rightId = addNode();
    featureIndex[node.id] = split.feature;
    threshold[node.id] = binThreshold(binned.cuts[split.feature] as Float32Array, split.bin);
    missingLeft[node.id] = split.missingLeft ? 1 : 0;
    left[node.id] = leftId;
    right[node.id] = rightId;

    const depth = node.depth + 1;
    const leftRows = mid - node.start;
    const rightRows = node.end - mid;
    const leftNeeds = canSplit(depth, split.hessLeft, leftRows);
    const rightNeeds = canSplit(depth, split.hessRight, rightRows);
    let leftHist = -1;
    let rightHist = -1;
    if (leftNeeds || rightNeeds) {
      // Build the smaller child from its rows; the larger one, if needed, is parent − smaller.
      const leftSmaller = leftRows <= rightRows;
      const small = acquire(ws);
      builder.build(
        small,
        features,
        leftSmaller ? node.start : mid,
        leftSmaller ? mid : node.end,
        false,
        grad,
        hess,
      );
      const largeNeeds = leftSmaller ? rightNeeds : leftNeeds;
      const smallNeeds = leftSmaller ? leftNeeds : rightNeeds;
      let large = -1;
      if (largeNeeds) {
        subtractHistogram(
          builder.hists[parentHist] as Float64Array,
          builder.hists[small] as Float64Array,
          offsets,
          binned.slots,
          features,
        );
        large = parentHist;
      } else {
        ws.free.push(parentHist);
      }
      const smallKept = smallNeeds ? small : -1;
      if (!smallNeeds) ws.free.push(small);
      leftHist = leftSmaller ? smallKept : large;
      rightHist = leftSmaller ? large : smallKept;
    } else {
      ws.free.push(parentHist);
    }
    // Right first, so the left subtree is finished first (a stable, readable node order).
    stack.push({
      id: rightId,
      start: mid,
      end: node.end,
      depth,
      grad: split.gradRight,
      hess: split.hessRight,
      hist: rightHist,
    });
    stack.push({
      id: leftId,
      start: node.start,
      end: mid,
      depth,
      grad: split.gradLeft,
      hess: split.hessLeft,
      hist: leftHist,
    });
  }

  return {
    tree: {
      featureIndex: Int32Array.from(featureIndex),
      threshold: Float32Array.from(threshold),
      missingGoesLeft: Uint8Array.from(missingLeft),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      leafValue: Float64Array.from(leafValue),
    },
    leafRanges: Int32Array.from(leafRanges),
  };
}

/** The id of a free histogram buffer, zeroed. */
function acquire(ws: GrowWorkspace): number {
  const id = ws.free.pop();
  if (id === undefined) throw new Error('histogram pool exhausted: more pending nodes than maxDepth allows');
  (ws.builder.hists[id] as Float64Array).fill(0);
  return id;
}

/**
 * Stable in-place partition of `rowIndex[start..end)`: rows going left (bin < splitBin, or missing
 * when missingLeft) first. Returns the first position of the right child.
 */
function partition(
  ws: GrowWorkspace,
  start: number,
  end: number,
  feature: number,
  splitBin: number,
  missingLeft: boolean,
): number {
  const { rowIndex, scratch } = ws;
  const column = ws.binned.bins[feature] as Uint8Array;
  // Left iff lowest <= bin < splitBin, where lowest is 0 when missing (bin 0) goes left, else 1: one
  // unsigned comparison. Each row is written to both sides and only the matching cursor advances,
  // which avoids a branch the CPU could not predict.
  const lowest = missingLeft ? 0 : 1;
  const width = splitBin - lowest;
  let l = start;
  let r = 0;
  for (let i = start; i < end; i++) {
    const row = rowIndex[i] as number;
    const goLeft = +(((column[row] as number) - lowest) >>> 0 < width);
    rowIndex[l] = row;
    scratch[r] = row;
    l += goLeft;
    r += 1 - goLeft;
  }
  rowIndex.set(scratch.subarray(0, r), l);
  return l;
}
