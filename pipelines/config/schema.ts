/**
 * `driftline.config.json`: one file drives the CDK app, the CLI and every Lambda.
 *
 * Defined once here with zod; the JSON Schema for editors (`schema/driftline.config.schema.json`) is
 * generated from it by `npm run schema`. Every section has defaults, so a config needs only
 * `project`, `task`, `target` and `features`.
 */
import { z } from 'zod';

/** Names of things that become AWS resource names, stack names and ONNX graph names. */
const resourceName = z.string().regex(/^[a-z][a-z0-9-]{1,38}[a-z0-9]$/, {
  message: 'expected 3-40 characters: lowercase letters, digits and "-", starting with a letter',
});

export const TASKS = ['binary', 'multiclass', 'regression'] as const;
export type Task = (typeof TASKS)[number];

export const FEATURE_TYPES = ['numeric', 'categorical'] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];

const range = z
  .strictObject({
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    message: 'min must not be greater than max',
  });

const feature = z
  .strictObject({
    name: z.string().min(1, { message: 'expected a non-empty column name' }),
    type: z.enum(FEATURE_TYPES),
    nullable: z.boolean().default(false),
    /** Numeric only: values outside are rejected by validation. */
    range: range.optional(),
    /** Categorical only: the allowed values; others are rejected (omit to allow unseen values). */
    values: z.array(z.string()).min(1).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.type === 'categorical' && f.range !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['range'], message: 'range applies only to numeric features' });
    }
    if (f.type === 'numeric' && f.values !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: 'values applies only to categorical features',
      });
    }
  });
export type FeatureSpec = z.output<typeof feature>;

const gbdtParams = z.strictObject({
  /** Upper bound on boosting rounds; early stopping usually ends sooner. */
  nEstimators: z.int().min(1).max(10_000).default(500),
  learningRate: z.number().gt(0).max(1).default(0.1),
  maxDepth: z.int().min(1).max(16).default(6),
  /** Minimum hessian sum in a leaf (XGBoost's min_child_weight). */
  minChildWeight: z.number().min(0).default(1),
  /** L2 regularisation on leaf weights. */
  lambda: z.number().min(0).default(1),
  subsample: z.number().gt(0).max(1).default(1),
  colsampleByTree: z.number().gt(0).max(1).default(1),
  /** Histogram bins per feature (quantile edges). */
  maxBins: z.int().min(2).max(255).default(255),
  /** Stop after this many rounds without improvement on the validation split; 0 turns it off. */
  earlyStoppingRounds: z.int().min(0).default(20),
});
export type GbdtParams = z.output<typeof gbdtParams>;

const linearParams = z.strictObject({
  /** L2 penalty on the (standardised) weights. */
  l2: z.number().min(0).default(1e-4),
  maxIterations: z.int().min(1).max(100_000).default(500),
  tolerance: z.number().gt(0).default(1e-7),
});
export type LinearParams = z.output<typeof linearParams>;

const split = z
  .strictObject({
    validationFraction: z.number().gt(0).lt(1).default(0.15),
    testFraction: z.number().gt(0).lt(1).default(0.15),
    /** Split by this column's order (oldest rows train, newest test) instead of at random. */
    timeColumn: z.string().min(1).optional(),
  })
  .refine((s) => s.validationFraction + s.testFraction < 0.9, {
    message: 'validationFraction + testFraction must leave at least 10% of rows for training',
  });

const trainingCommon = {
  seed: z.int().min(0).default(42),
  split: split.prefault({}),
  /** Where training runs in AWS: inside the pipeline's Lambda, or as a SageMaker training job. */
  compute: z.enum(['lambda', 'sagemaker']).default('lambda'),
};

const training = z.preprocess(
  (value) =>
    value !== null && typeof value === 'object' && !('algorithm' in value)
      ? { ...value, algorithm: 'gbdt' }
      : value,
  z.discriminatedUnion('algorithm', [
    z.strictObject({ algorithm: z.literal('gbdt'), params: gbdtParams.prefault({}), ...trainingCommon }),
    z.strictObject({ algorithm: z.literal('linear'), params: linearParams.prefault({}), ...trainingCommon }),
  ]),
);
export type TrainingConfig = z.output<typeof training>;

export const METRICS = [
  'auc',
  'logloss',
  'accuracy',
  'macroF1',
  'precision',
  'recall',
  'rmse',
  'mae',
  'r2',
] as const;
export type MetricName = (typeof METRICS)[number];

/** Which metrics each task reports; the promotion metric must be one of them. */
export const TASK_METRICS: Record<Task, readonly MetricName[]> = {
  binary: ['auc', 'logloss', 'accuracy', 'macroF1', 'precision', 'recall'],
  multiclass: ['accuracy', 'macroF1', 'logloss'],
  regression: ['rmse', 'mae', 'r2'],
};

/** Metrics where smaller is better. */
export const LOWER_IS_BETTER: ReadonlySet<MetricName> = new Set(['logloss', 'rmse', 'mae']);

const DEFAULT_METRIC: Record<Task, MetricName> = { binary: 'auc', multiclass: 'macroF1', regression: 'rmse' };

const promotion = z.strictObject({
  /** The metric that decides promotion; defaults to auc / macroF1 / rmse by task. */
  metric: z.enum(METRICS).optional(),
  /** The challenger must reach at least this value (at most, for lower-is-better metrics). */
  minimum: z.number().optional(),
  /** Required improvement over the champion on the same holdout, in metric units. */
  minImprovement: z.number().min(0).default(0),
  /** `auto` approves and deploys a challenger that passes; `manual` waits for `models promote`. */
  approval: z.enum(['auto', 'manual']).default('auto'),
});

const monitoring = z.strictObject({
  /** How often drift and quality windows are evaluated (EventBridge expression). */
  schedule: z
    .string()
    .regex(/^(rate|cron)\(.+\)$/, { message: 'expected an EventBridge expression such as "rate(1 hour)"' })
    .default('rate(1 hour)'),
  /** Captured traffic in one window. */
  windowHours: z
    .number()
    .gt(0)
    .max(24 * 31)
    .default(24),
  /** Windows with fewer rows are skipped (state InsufficientData). */
  minRows: z.int().min(1).default(200),
  thresholds: z
    .strictObject({
      psiWarn: z.number().gt(0).default(0.1),
      psiDrift: z.number().gt(0).default(0.2),
      jsDistance: z.number().gt(0).max(1).default(0.1),
      ksDistance: z.number().gt(0).max(1).default(0.1),
      unseenCategoryRate: z.number().gt(0).max(1).default(0.1),
      missingRateChange: z.number().gt(0).max(1).default(0.1),
      driftedFeatureShare: z.number().gt(0).max(1).default(0.5),
      predictionPsi: z.number().gt(0).default(0.2),
    })
    .prefault({}),
  /** M of N windows in breach raise the alarm. */
  alarm: z
    .strictObject({
      breachingWindows: z.int().min(1).default(2),
      evaluationWindows: z.int().min(1).default(3),
    })
    .refine((a) => a.breachingWindows <= a.evaluationWindows, {
      message: 'breachingWindows must not exceed evaluationWindows',
    })
    .prefault({}),
  retrain: z
    .strictObject({
      /** No retrain starts within this many hours of the previous one. */
      cooldownHours: z.number().min(0).default(6),
      /** At most this many retrains start per UTC day. */
      maxPerDay: z.int().min(0).default(4),
    })
    .prefault({}),
});

const api = z.strictObject({
  /** `iam` signs requests with SigV4; `apiKey` adds an API key and usage plan. */
  auth: z.enum(['iam', 'apiKey']).default('iam'),
  throttling: z
    .strictObject({
      rateLimit: z.number().gt(0).default(100),
      burstLimit: z.int().min(1).default(200),
    })
    .prefault({}),
  /** Instances per request; more → 413. */
  maxInstances: z.int().min(1).max(100_000).default(1000),
  /** Share of requests whose inputs and outputs are captured for monitoring. */
  captureSampleRate: z.number().min(0).max(1).default(1),
  /** How often the serving code checks whether the champion changed. */
  modelRefreshSeconds: z.int().min(1).max(3600).default(60),
});

const stage = z.strictObject({
  /** Ephemeral stages destroy their data on `cdk destroy`; others retain it. */
  ephemeral: z.boolean().default(false),
  /** Days a replaced object version is kept before it expires. */
  noncurrentVersionDays: z.int().min(1).default(90),
});
export type StageConfig = z.output<typeof stage>;

/** Names of the ONNX model's outputs, which a feature (an input) cannot share. */
export const RESERVED_FEATURE_NAMES: readonly string[] = ['label', 'probabilities', 'variable'];

/** The whole configuration file. */
export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    project: z.strictObject({
      name: resourceName,
      description: z.string().optional(),
    }),
    task: z.enum(TASKS),
    target: z.string().min(1, { message: 'expected the name of the label column' }),
    features: z.array(feature).min(1, { message: 'expected at least one feature' }),
    training: training.prefault({}),
    promotion: promotion.prefault({}),
    monitoring: monitoring.prefault({}),
    api: api.prefault({}),
    /** Per-stage settings, keyed by the stage name given to `cdk -c stage=NAME`. */
    stages: z.record(z.string().regex(/^[a-z][a-z0-9]{0,15}$/), stage).default({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.features.forEach((f, i) => {
      const first = seen.get(f.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `duplicate feature "${f.name}" (also features[${first}])`,
        });
      } else {
        seen.set(f.name, i);
      }
      if (RESERVED_FEATURE_NAMES.includes(f.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `"${f.name}" is the name of a model output; rename the column (reserved: ${RESERVED_FEATURE_NAMES.map((n) => `"${n}"`).join(', ')})`,
        });
      }
      if (f.name === config.target) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `the target "${config.target}" cannot also be a feature`,
        });
      }
    });
    const metric = config.promotion.metric;
    if (metric !== undefined && !TASK_METRICS[config.task].includes(metric)) {
      ctx.addIssue({
        code: 'custom',
        path: ['promotion', 'metric'],
        message: `"${metric}" is not reported for ${config.task} tasks; expected ${TASK_METRICS[config.task]
          .map((m) => `"${m}"`)
          .join(' | ')}`,
      });
    }
    const timeColumn = config.training.split.timeColumn;
    if (timeColumn !== undefined && timeColumn === config.target) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'split', 'timeColumn'],
        message: 'the time column cannot be the target',
      });
    }
  })
  .transform((config) => ({
    ...config,
    promotion: { ...config.promotion, metric: config.promotion.metric ?? DEFAULT_METRIC[config.task] },
  }));

/** A validated configuration with every default filled in. */
export type DriftlineConfig = z.output<typeof configSchema>;
/** What a user may write: everything with a default is optional. */
export type DriftlineConfigInput = z.input<typeof configSchema>;

/** The stage settings for `name`, with defaults when the config does not mention it. */
export function stageConfig(config: DriftlineConfig, name: string): StageConfig {
  return config.stages[name] ?? stage.parse({});
}
