/**
 * What a Driftline model says about itself in `metadata_props`, and the feature schema hash that
 * ties a model to the schema it was trained on: the serving layer recomputes the hash from the config
 * and refuses a model whose inputs differ.
 */
import { createHash } from 'node:crypto';
import type { FeatureType, Task } from '../config/schema.ts';

/** Metadata keys, all under the `driftline.` prefix. */
export const METADATA_KEYS = {
  version: 'driftline.version',
  schema: 'driftline.schema',
  schemaHash: 'driftline.schema_sha256',
  task: 'driftline.task',
  modelKind: 'driftline.model_kind',
  classes: 'driftline.classes',
  datasetVersion: 'driftline.dataset_version',
} as const;

/** The part of a feature that decides a model's inputs: its name and type. */
export interface SchemaFeature {
  readonly name: string;
  readonly type: FeatureType;
}

/**
 * The canonical feature schema: a JSON array of `{"name","type"}` objects in model input order, keys
 * in that order, no whitespace. Range, nullability and allowed values are validation rules of the
 * serving edge, not part of the model's inputs, so they are left out.
 */
export function canonicalFeatureSchema(features: readonly SchemaFeature[]): string {
  return JSON.stringify(features.map((f) => ({ name: f.name, type: f.type })));
}

/** sha256 (hex) of {@link canonicalFeatureSchema}. */
export function featureSchemaHash(features: readonly SchemaFeature[]): string {
  return createHash('sha256').update(canonicalFeatureSchema(features), 'utf8').digest('hex');
}

/** Everything recorded in `metadata_props`. */
export interface ModelMetadata {
  readonly version: string;
  readonly features: readonly SchemaFeature[];
  readonly task: Task;
  readonly modelKind: 'gbdt' | 'linear';
  readonly classes: readonly string[];
  readonly datasetVersion?: string | undefined;
}

/** The `metadata_props` entries in a fixed order (the export must be byte-for-byte deterministic). */
export function metadataProps(meta: ModelMetadata): { key: string; value: string }[] {
  const props: { key: string; value: string }[] = [
    { key: METADATA_KEYS.version, value: meta.version },
    { key: METADATA_KEYS.schema, value: canonicalFeatureSchema(meta.features) },
    { key: METADATA_KEYS.schemaHash, value: featureSchemaHash(meta.features) },
    { key: METADATA_KEYS.task, value: meta.task },
    { key: METADATA_KEYS.modelKind, value: meta.modelKind },
    { key: METADATA_KEYS.classes, value: JSON.stringify(meta.classes) },
  ];
  if (meta.datasetVersion !== undefined) {
    props.push({ key: METADATA_KEYS.datasetVersion, value: meta.datasetVersion });
  }
  return props;
}
