/**
 * Label checks shared by the encoders and the trainers: a label that does not fit the task is a user
 * error (a wrong target column, a class index off by one), so it is reported as an {@link InputError}
 * naming the first offending row instead of silently producing a useless model.
 */
import type { Task } from '../config/schema.ts';
import { InputError } from '../errors.ts';

/**
 * Throws an {@link InputError} unless every label fits `task`: 0 or 1 for binary, an integer class
 * index in `[0, numClasses)` for multiclass (with `numClasses >= 2`), a finite number for regression.
 *
 * @param what names the labels in the message, e.g. `"training labels"`.
 */
export function checkLabels(labels: Float64Array, task: Task, numClasses: number, what: string): void {
  if (task === 'multiclass' && !(Number.isInteger(numClasses) && numClasses >= 2)) {
    throw new InputError(`multiclass needs at least 2 classes, got ${numClasses}`, {
      hint: 'pass the number of distinct classes of the target column',
    });
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    let ok: boolean;
    let expected: string;
    if (task === 'binary') {
      ok = y === 0 || y === 1;
      expected = '0 or 1';
    } else if (task === 'multiclass') {
      ok = Number.isInteger(y) && y >= 0 && y < numClasses;
      expected = `an integer class index in [0, ${numClasses - 1}]`;
    } else {
      ok = Number.isFinite(y);
      expected = 'a finite number';
    }
    if (!ok) {
      throw new InputError(`${what}: row ${i} has label ${y}; expected ${expected} for a ${task} task`, {
        details: [{ path: `${what}[${i}]`, message: `expected ${expected}, received ${y}` }],
      });
    }
  }
}
