/** `manifest.json`: what a dataset version holds, written once beside its bytes. */
import type { FeatureType, Task } from '../config/schema.ts';
import type { DataFormat } from '../data/records.ts';
import type { ColumnStats } from './stats.ts';

/** One column of a dataset version and its role. */
export interface ManifestColumn {
  readonly name: string;
  readonly role: 'feature' | 'target' | 'time';
  readonly type: FeatureType | 'datetime';
  readonly nullable?: boolean;
}

/** The manifest of one dataset version. */
export interface DatasetManifest {
  readonly manifestVersion: 1;
  readonly name: string;
  /** sha256 of the stored bytes: the version id. */
  readonly version: string;
  readonly format: DataFormat;
  /** The stored object, relative to the store root. */
  readonly dataKey: string;
  readonly bytes: number;
  /** Rows with a target (rows without one are counted in `droppedRows`). */
  readonly rows: number;
  readonly droppedRows: number;
  readonly task: Task;
  readonly columns: readonly ManifestColumn[];
  /** sha256 of the canonical schema (features with types, target, task): equal hashes, same schema. */
  readonly schemaHash: string;
  readonly stats: Readonly<Record<string, ColumnStats>>;
  /** The file it was pushed from (its name only, not the path). */
  readonly sourceFile: string;
  readonly createdAt: string;
  /** The version `latest` pointed to when this push began; null for the first version. */
  readonly parent: string | null;
}
