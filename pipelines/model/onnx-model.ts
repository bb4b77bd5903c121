/**
 * A loaded Driftline ONNX model on onnxruntime-node: the one wrapper used by evaluation after
 * training, `driftline predict`, and the serving handler. The model describes itself (features, task,
 * classes from its metadata), so scoring needs only the bytes.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { Task } from '../config/schema.ts';
import { InputError } from '../errors.ts';
import { readOnnxMetadata } from '../onnx/export.ts';
import type { OnnxFeed } from '../onnx/inputs.ts';
import { METADATA_KEYS, type SchemaFeature } from '../onnx/metadata.ts';
import type { RawColumn } from '../train/encoding.ts';
import { MISSING_CATEGORY } from './raw.ts';

/** What one run returns: per-row labels and row-major probabilities (n × classes), or values. */
export type ScoredBatch =
  | { readonly kind: 'classes'; readonly labels: readonly string[]; readonly probabilities: Float32Array }
  | { readonly kind: 'values'; readonly values: Float32Array };

/** Session options; the defaults suit a Lambda (one or two vCPUs) and a small CLI run alike. */
export interface OnnxModelOptions {
  /** Threads inside one operator; 1 avoids oversubscription where requests already run in parallel. */
  readonly intraOpThreads?: number;
}

function parseJson<T>(text: string | undefined, what: string): T {
  if (text === undefined)
    throw new InputError(`the model has no ${what} in its metadata`, { hint: 'export it with Driftline' });
  return JSON.parse(text) as T;
}

/** Feeds for a whole column-major table (float32 for numeric, strings for categorical). */
export function columnFeeds(
  features: readonly SchemaFeature[],
  columns: readonly RawColumn[],
): Record<string, OnnxFeed> {
  // No prototype: a feature named "__proto__" is a key like any other.
  const feeds = Object.create(null) as Record<string, OnnxFeed>;
  features.forEach((feature, j) => {
    const column = columns[j];
    if (column === undefined || column.type !== feature.type) {
      throw new InputError(`column ${j} does not hold the ${feature.type} feature "${feature.name}"`);
    }
    const n = column.values.length;
    feeds[feature.name] =
      column.type === 'numeric'
        ? { type: 'float32', data: Float32Array.from(column.values), dims: [n, 1] }
        : { type: 'string', data: column.values.map((v) => v ?? MISSING_CATEGORY), dims: [n, 1] };
  });
  return feeds;
}

/** A Driftline model loaded into onnxruntime. Create with {@link OnnxModel.load}. */
export class OnnxModel {
  readonly #session: ort.InferenceSession;
  /** sha256 (hex) of the model bytes. */
  readonly sha256: string;
  readonly features: readonly SchemaFeature[];
  readonly task: Task;
  readonly classes: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;

  private constructor(session: ort.InferenceSession, bytes: Uint8Array, metadata: Record<string, string>) {
    this.#session = session;
    this.sha256 = createHash('sha256').update(bytes).digest('hex');
    this.metadata = metadata;
    this.features = parseJson<SchemaFeature[]>(metadata[METADATA_KEYS.schema], 'feature schema');
    this.task = (metadata[METADATA_KEYS.task] ?? '') as Task;
    this.classes = parseJson<string[]>(metadata[METADATA_KEYS.classes], 'class list');
  }

  /**
   * Loads model bytes.
   * @throws InputError when the bytes are not a Driftline ONNX model
   */
  static async load(bytes: Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    let metadata: Record<string, string>;
    try {
      metadata = readOnnxMetadata(bytes);
    } catch (error) {
      throw new InputError(`not an ONNX model: ${(error as Error).message}`, { cause: error });
    }
    if (metadata[METADATA_KEYS.schema] === undefined) {
      throw new InputError('the ONNX model was not written by Driftline (no driftline.schema metadata)', {
        hint: 'use a model from "driftline fit" or "driftline train"',
      });
    }
    // The serving path writes one probability per class name: a name listed twice would be ambiguous.
    const classes = parseJson<unknown>(metadata[METADATA_KEYS.classes], 'class list');
    if (!Array.isArray(classes) || classes.some((name) => typeof name !== 'string')) {
      throw new InputError("the model's class list (driftline.classes metadata) is not a list of names", {
        hint: 'use a model from "driftline fit" or "driftline train"',
      });
    }
    const twice = classes.find((name, i) => classes.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new InputError(`the model's class list names ${JSON.stringify(twice)} twice`, {
        hint: 'use a model from "driftline fit" or "driftline train"',
      });
    }
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new OnnxModel(session, bytes, metadata);
  }

  /** Scores `rows` rows given one feed per feature. */
  async run(feeds: Readonly<Record<string, OnnxFeed>>): Promise<ScoredBatch> {
    const tensors = Object.create(null) as Record<string, ort.Tensor>;
    for (const [name, feed] of Object.entries(feeds))
      tensors[name] = new ort.Tensor(feed.type, feed.data, [...feed.dims]);
    const out = await this.#session.run(tensors);
    if (this.task === 'regression') {
      const values = out.variable?.data;
      if (!(values instanceof Float32Array)) throw new Error('the model returned no "variable" output');
      return { kind: 'values', values };
    }
    const labels = out.label?.data;
    const probabilities = out.probabilities?.data;
    if (!Array.isArray(labels) || !(probabilities instanceof Float32Array)) {
      throw new Error('the model returned no "label" / "probabilities" outputs');
    }
    return { kind: 'classes', labels: labels as string[], probabilities };
  }

  /** Scores a column-major table whose columns follow {@link OnnxModel.features}. */
  runColumns(columns: readonly RawColumn[]): Promise<ScoredBatch> {
    return this.run(columnFeeds(this.features, columns));
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}
