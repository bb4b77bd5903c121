import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import { ConfigError } from '../../../pipelines/errors.ts';

const minimal = {
  project: { name: 'churn-model' },
  task: 'binary',
  target: 'churned',
  features: [
    { name: 'age', type: 'numeric', nullable: true },
    { name: 'plan', type: 'categorical' },
  ],
};

/** The `path: message` pairs of the ConfigError thrown for `value`. */
function errorsOf(value: unknown): string[] {
  try {
    parseConfig(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).details.map((d) => `${d.path}: ${d.message}`);
  }
  throw new Error('expected the config to be refused');
}

function withFeatures(...features: unknown[]) {
  return { ...minimal, features };
}

describe('config schema: a good file', () => {
  it('fills every section with defaults from the four required fields', () => {
    // Act
    const config = parseConfig(minimal);

    // Assess
    expect(config.features[1]).toEqual({ name: 'plan', type: 'categorical', nullable: false });
    expect(config.training).toMatchObject({
      algorithm: 'gbdt',
      seed: 42,
      compute: 'lambda',
      params: { nEstimators: 500, learningRate: 0.1, maxDepth: 6, maxBins: 255, earlyStoppingRounds: 20 },
      split: { validationFraction: 0.15, testFraction: 0.15 },
    });
    expect(config.promotion).toEqual({ metric: 'auc', minImprovement: 0, approval: 'auto' });
    expect(config.monitoring.retrain).toEqual({ cooldownHours: 6, maxPerDay: 4 });
    expect(config.monitoring.alarm).toEqual({ breachingWindows: 2, evaluationWindows: 3 });
    expect(config.api).toMatchObject({ auth: 'iam', maxInstances: 1000, captureSampleRate: 1 });
    expect(config.stages).toEqual({});
  });

  it('chooses the promotion metric by task when none is given', () => {
    expect(parseConfig({ ...minimal, task: 'multiclass' }).promotion.metric).toBe('macroF1');
    expect(parseConfig({ ...minimal, task: 'regression' }).promotion.metric).toBe('rmse');
  });

  it('accepts a linear trainer with its own parameters, ranges and allowed values', () => {
    const config = parseConfig({
      ...withFeatures(
        { name: 'age', type: 'numeric', range: { min: 0, max: 120 } },
        { name: 'plan', type: 'categorical', values: ['basic', 'pro'] },
      ),
      training: { algorithm: 'linear', params: { l2: 0.01 } },
      stages: { prod: { ephemeral: false } },
    });
    expect(config.training).toMatchObject({ algorithm: 'linear', params: { l2: 0.01, maxIterations: 500 } });
    expect(config.stages.prod).toEqual({ ephemeral: false, noncurrentVersionDays: 90 });
  });
});

describe('config schema: each kind of bad file names the field and what was expected', () => {
  it('a wrong feature type', () => {
    const bad = withFeatures(
      { name: 'a', type: 'numeric' },
      { name: 'b', type: 'numeric' },
      { name: 'c', type: 'numeric' },
      { name: 'd', type: 'numeric' },
      { name: 'e', type: 'cat' },
    );
    expect(errorsOf(bad)).toEqual(['features[4].type: expected "numeric" | "categorical", received "cat"']);
  });

  it('missing required sections', () => {
    expect(errorsOf({ task: 'binary' })).toEqual([
      'project: required: expected object',
      'target: required: expected string',
      'features: required: expected array',
    ]);
  });

  it('a wrong value type', () => {
    expect(errorsOf({ ...minimal, task: 3 })).toEqual([
      'task: expected "binary" | "multiclass" | "regression", received 3',
    ]);
    expect(errorsOf({ ...minimal, training: { params: { maxDepth: 'deep' } } })).toEqual([
      'training.params.maxDepth: expected number, received "deep"',
    ]);
  });

  it('an unknown key (a typo)', () => {
    expect(errorsOf(withFeatures({ name: 'a', type: 'numeric', nullabel: true }))).toEqual([
      'features[0]: unknown key "nullabel" (check the spelling)',
    ]);
  });

  it('numbers out of range', () => {
    expect(errorsOf({ ...minimal, api: { captureSampleRate: 1.5 } })).toEqual([
      'api.captureSampleRate: Too big: expected number to be <=1, received 1.5',
    ]);
    expect(errorsOf({ ...minimal, training: { params: { maxBins: 1000 } } })[0]).toMatch(
      /^training\.params\.maxBins: .*<=255/,
    );
  });

  it('an unknown algorithm names the choices', () => {
    expect(errorsOf({ ...minimal, training: { algorithm: 'xgboost' } })).toEqual([
      'training.algorithm: expected "gbdt" | "linear", received "xgboost"',
    ]);
  });

  it('parameters of the other algorithm', () => {
    expect(errorsOf({ ...minimal, training: { algorithm: 'linear', params: { maxDepth: 3 } } })).toEqual([
      'training.params: unknown key "maxDepth" (check the spelling)',
    ]);
  });

  it('cross-field rules: duplicate feature, target as a feature, metric of another task, options of another type', () => {
    expect(
      errorsOf(withFeatures({ name: 'a', type: 'numeric' }, { name: 'a', type: 'categorical' })),
    ).toEqual(['features[1].name: duplicate feature "a" (also features[0])']);
    expect(errorsOf(withFeatures({ name: 'churned', type: 'numeric' }))).toEqual([
      'features[0].name: the target "churned" cannot also be a feature',
    ]);
    expect(errorsOf(withFeatures({ name: 'label', type: 'categorical' }))).toEqual([
      'features[0].name: "label" is the name of a model output; rename the column (reserved: "label", "probabilities", "variable")',
    ]);
    expect(errorsOf({ ...minimal, promotion: { metric: 'rmse' } })).toEqual([
      'promotion.metric: "rmse" is not reported for binary tasks; expected "auc" | "logloss" | "accuracy" | "macroF1" | "precision" | "recall"',
    ]);
    expect(errorsOf(withFeatures({ name: 'a', type: 'categorical', range: { min: 0 } }))).toEqual([
      'features[0].range: range applies only to numeric features',
    ]);
    expect(errorsOf(withFeatures({ name: 'a', type: 'numeric', range: { min: 5, max: 1 } }))).toEqual([
      'features[0].range: min must not be greater than max',
    ]);
  });

  it('reports every offending field at once', () => {
    const errors = errorsOf({
      project: { name: 'X' },
      task: 'binary',
      target: 'y',
      features: [],
      monitoring: { alarm: { breachingWindows: 4, evaluationWindows: 3 } },
    });
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^project\.name: /);
    expect(errors[1]).toBe('features: expected at least one feature, received an array');
    expect(errors[2]).toBe('monitoring.alarm: breachingWindows must not exceed evaluationWindows');
  });
});
