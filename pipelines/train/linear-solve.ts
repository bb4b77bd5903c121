/**
 * The two numerical solvers behind the linear trainer, written here because no maintained npm package
 * offers them at the quality needed (ml-matrix has a Cholesky but no optimiser; ml-logistic-regression
 * is plain gradient descent without a penalty; optimization-js is unmaintained):
 *
 * - {@link minimiseLbfgs}: limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright,
 *   "Numerical Optimization", 2nd ed., algorithms 7.4, 3.5 and 3.6) for the smooth convex losses of
 *   logistic and softmax regression.
 * - {@link solveCholesky}: a symmetric positive definite solve for the ridge normal equations.
 *
 * Both are sequential and take no random input: the same problem gives the same bits.
 */

/** Evaluates the objective at `x`, writes its gradient into `grad` and returns the value. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

/** How a minimisation ended. */
export interface Minimum {
  readonly x: Float64Array;
  readonly value: number;
  /** L-BFGS iterations (line searches) performed. */
  readonly iterations: number;
  /** Largest absolute gradient component at `x`. */
  readonly gradientNorm: number;
  /**
   * True when the gradient reached `tolerance`, or when an iteration no longer lowered the objective
   * beyond rounding error (the optimum at float64 precision); false when `maxIterations` ran out.
   */
  readonly converged: boolean;
}

/** Past (step, gradient change) pairs kept for the inverse-Hessian approximation. */
const HISTORY = 10;
/** Sufficient decrease (Armijo) and curvature constants of the strong Wolfe conditions. */
const C1 = 1e-4;
const C2 = 0.9;
const MAX_EVALUATIONS_PER_SEARCH = 40;
/** A relative decrease below this is rounding noise (scipy's L-BFGS-B uses the same 64·ε default). */
const RELATIVE_DECREASE_FLOOR = 64 * Number.EPSILON;

interface Point {
  readonly step: number;
  readonly value: number;
  readonly grad: Float64Array;
  /** Directional derivative along the search direction. */
  readonly slope: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

/**
 * Minimises a smooth function from `start`.
 *
 * @param tolerance stop when every gradient component is at most this in absolute value.
 */
export function minimiseLbfgs(
  objective: Objective,
  start: Float64Array,
  options: { readonly maxIterations: number; readonly tolerance: number },
): Minimum {
  const n = start.length;
  let x: Float64Array = Float64Array.from(start);
  let grad: Float64Array = new Float64Array(n);
  let value = objective(x, grad);
  const steps: Float64Array[] = [];
  const changes: Float64Array[] = [];
  const rhos: number[] = [];
  const alpha = new Float64Array(HISTORY);
  let iterations = 0;
  let converged = maxAbs(grad) <= options.tolerance;

  while (!converged && iterations < options.maxIterations) {
    // Two-loop recursion: direction = −H·grad with H the L-BFGS inverse-Hessian approximation.
    const direction = Float64Array.from(grad, (g) => -g);
    for (let k = steps.length - 1; k >= 0; k--) {
      const a = (rhos[k] as number) * dot(steps[k] as Float64Array, direction);
      alpha[k] = a;
      const y = changes[k] as Float64Array;
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) - a * (y[i] as number);
    }
    if (steps.length > 0) {
      const last = steps.length - 1;
      const y = changes[last] as Float64Array;
      const gamma = dot(steps[last] as Float64Array, y) / dot(y, y);
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) * gamma;
    }
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k] as Float64Array;
      const b = (rhos[k] as number) * dot(changes[k] as Float64Array, direction);
      const a = alpha[k] as number;
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) + (a - b) * (s[i] as number);
    }
    let slope = dot(grad, direction);
    if (!(slope < 0)) {
      // Not a descent direction (a stale curvature pair): restart from steepest descent.
      steps.length = 0;
      changes.length = 0;
      rhos.length = 0;
      for (let i = 0; i < n; i++) direction[i] = -(grad[i] as number);
      slope = dot(grad, direction);
    }
    // The first step has no curvature information: take a unit-length step.
    const initialStep = steps.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;

    const found = lineSearch(objective, x, value, slope, direction, initialStep);
    iterations++;
    if (found === undefined) break;

    const next = new Float64Array(n);
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = (x[i] as number) + found.step * (direction[i] as number);
      s[i] = (next[i] as number) - (x[i] as number);
      y[i] = (found.grad[i] as number) - (grad[i] as number);
    }
    const previous = value;
    x = next;
    grad = found.grad;
    value = found.value;

    const sy = dot(s, y);
    // Keep the pair only with positive curvature, so H stays positive definite.
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (steps.length === HISTORY) {
        steps.shift();
        changes.shift();
        rhos.shift();
      }
      steps.push(s);
      changes.push(y);
      rhos.push(1 / sy);
    }
    converged =
      maxAbs(grad) <= options.tolerance ||
      previous - value <= RELATIVE_DECREASE_FLOOR * Math.max(Math.abs(previous), Math.abs(value), 1);
  }
  return { x, value, iterations, gradientNorm: maxAbs(grad), converged };
}

/**
 * A step satisfying the strong Wolfe conditions along `direction`, or undefined when none lowers the
 * objective (the minimum is reached at float64 precision).
 */
function lineSearch(
  objective: Objective,
  x: Float64Array,
  value0: number,
  slope0: number,
  direction: Float64Array,
  initialStep: number,
): Point | undefined {
  const n = x.length;
  const trial = new Float64Array(n);
  let evaluations = 0;
  const evaluate = (step: number): Point => {
    evaluations++;
    for (let i = 0; i < n; i++) trial[i] = (x[i] as number) + step * (direction[i] as number);
    const grad = new Float64Array(n);
    const value = objective(trial, grad);
    return { step, value, grad, slope: dot(grad, direction) };
  };
  const sufficient = (p: Point): boolean => p.value <= value0 + C1 * p.step * slope0;
  const curvature = (p: Point): boolean => Math.abs(p.slope) <= -C2 * slope0;

  let previous: Point = { step: 0, value: value0, grad: new Float64Array(0), slope: slope0 };
  let step = initialStep;
  let best: Point | undefined;
  while (evaluations < MAX_EVALUATIONS_PER_SEARCH) {
    const p = evaluate(step);
    if (!Number.isFinite(p.value)) {
      step /= 2; // overflow far out: come back towards the start
      continue;
    }
    if (!sufficient(p) || (previous.step > 0 && p.value >= previous.value)) {
      return zoom(previous, p);
    }
    if (curvature(p)) return p;
    best = p;
    if (p.slope >= 0) return zoom(p, previous);
    previous = p;
    step *= 2;
  }
  return best;

  /** Narrows [lo, hi] (lo satisfies sufficient decrease and is the lower of the two) to a Wolfe step. */
  function zoom(lo: Point, hi: Point): Point | undefined {
    while (evaluations < MAX_EVALUATIONS_PER_SEARCH) {
      const width = hi.step - lo.step;
      let step = cubicMinimiser(lo, hi);
      // Keep away from the ends, so the bracket shrinks every time.
      const margin = 0.1 * Math.abs(width);
      const left = Math.min(lo.step, hi.step) + margin;
      const right = Math.max(lo.step, hi.step) - margin;
      if (!Number.isFinite(step) || step < left || step > right) step = lo.step + width / 2;
      const p = evaluate(step);
      if (!sufficient(p) || p.value >= lo.value) {
        hi = p;
      } else {
        if (curvature(p)) return p;
        if (p.slope * width >= 0) hi = lo;
        lo = p;
      }
      if (Math.abs(hi.step - lo.step) <= 1e-16 * Math.max(1, Math.abs(lo.step))) break;
    }
    return lo.step > 0 && lo.value < value0 ? lo : undefined;
  }
}

/** The minimiser of the cubic through two points with their slopes (NaN when it has none). */
function cubicMinimiser(a: Point, b: Point): number {
  const d1 = a.slope + b.slope - (3 * (a.value - b.value)) / (a.step - b.step);
  const disc = d1 * d1 - a.slope * b.slope;
  if (disc < 0) return Number.NaN;
  const d2 = Math.sign(b.step - a.step) * Math.sqrt(disc);
  return b.step - ((b.step - a.step) * (b.slope + d2 - d1)) / (b.slope - a.slope + 2 * d2);
}

/**
 * Solves `A x = b` for a symmetric positive definite `A` (row-major `n × n`, only read) by Cholesky
 * factorisation.
 *
 * @returns undefined when `A` is not numerically positive definite.
 */
export function solveCholesky(a: Float64Array, b: Float64Array): Float64Array | undefined {
  const n = b.length;
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let diagonal = a[j * n + j] as number;
    for (let k = 0; k < j; k++) diagonal -= (l[j * n + k] as number) ** 2;
    // A pivot lost in rounding means a (numerically) singular matrix.
    if (!(diagonal > 1e-12 * Math.abs(a[j * n + j] as number)) || !(diagonal > 0)) return undefined;
    const root = Math.sqrt(diagonal);
    l[j * n + j] = root;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      l[i * n + j] = s / root;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (x[k] as number);
    x[i] = s / (l[i * n + i] as number);
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (x[k] as number);
    x[i] = s / (l[i * n + i] as number);
  }
  return x;
}
