/**
 * The classification head shared by both model kinds: raw scores → `probabilities` [N, C] float →
 * `label` [N] string.
 *
 * - binary: one raw score s; probabilities `[1 − σ(s), σ(s)]`.
 * - multiclass: K raw scores; probabilities `softmax(s)`.
 * - label: the class name at `ArgMax(probabilities)` (the first one on a tie), gathered from a string
 *   constant, so the label is the class name itself, never an index the caller must look up.
 */
import { attr, type GraphBuilder } from './graph.ts';

/** Graph output names fixed by the model contract. */
export const OUTPUT_NAMES = { label: 'label', probabilities: 'probabilities', value: 'variable' } as const;

/** Appends the head after the raw score tensor `raw`. */
export function classificationHead(
  g: GraphBuilder,
  raw: string,
  task: 'binary' | 'multiclass',
  classes: readonly string[],
): void {
  if (task === 'binary') {
    const positive = g.op('Sigmoid', [raw]);
    const one = g.floatConstant('one', [1], [1]);
    const negative = g.op('Sub', [one, positive]);
    g.node('Concat', [negative, positive], [OUTPUT_NAMES.probabilities], { axis: attr.int(1) });
  } else {
    g.node('Softmax', [raw], [OUTPUT_NAMES.probabilities], { axis: attr.int(1) });
  }
  const index = g.op('ArgMax', [OUTPUT_NAMES.probabilities], { axis: attr.int(1), keepdims: attr.int(0) });
  const names = g.stringConstant('class_names', [classes.length], classes);
  g.node('Gather', [names, index], [OUTPUT_NAMES.label], { axis: attr.int(0) });
}
