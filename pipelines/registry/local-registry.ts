/**
 * The local model registry: model versions kept in the object store (under `$DRIFTLINE_HOME` when the
 * store is the local folder), with no AWS. Layout under `registry/`:
 *
 * ```
 * registry/versions/<n>.json   version n as registered: immutable, created with putIfAbsent, so a
 *                              version number is claimed exactly once, by exactly one writer
 * registry/pages/<p>.json      versions (p-1)*100+1 … p*100 with their current status, oldest first;
 *                              replaced by compare-and-swap. get() reads one page, list() every page
 * registry/champion.json       the champion pointer (see champion.ts)
 * ```
 *
 * The version files say which numbers exist and what was registered; the pages say what the status
 * of each is. Pages bound the size of every compare-and-swap write (refs are small, see the storage
 * port) and let writers of different hundreds not contend at all; 1,000 versions are 10 reads.
 *
 * A writer that dies between claiming a number and adding it to its page leaves a straggler. Numbers
 * are claimed in order, so version files are always 1…N with no gap: readers fill a page's missing
 * tail from the version files (a straggler's status is the one it was registered with, since a status
 * change first stores it in its page), and the next change to that page stores it.
 */
import { IntegrityError, NotFoundError } from '../errors.ts';
import { jsonBytes, readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ChampionRegistryOptions } from './champion.ts';
import { ChampionRegistry } from './champion.ts';
import type {
  ListOptions,
  ModelCatalog,
  ModelRegistry,
  ModelStatus,
  ModelVersion,
  RegisterInput,
} from './registry.ts';

/** Versions per page. */
export const PAGE_SIZE = 100;

/** The key of the immutable registration record of `version`. */
export function versionKey(version: number): string {
  return `registry/versions/${version}.json`;
}

/** The key of page `page` (1-based), which holds versions `(page-1)*PAGE_SIZE+1 … page*PAGE_SIZE`. */
export function pageKey(page: number): string {
  return `registry/pages/${page}.json`;
}

/** The page `version` belongs to. */
function pageOf(version: number): number {
  return Math.floor((version - 1) / PAGE_SIZE) + 1;
}

/** A stored page: `versions[i]` is version `(page - 1) * size + i + 1`. */
interface PageDocument {
  readonly format: 1;
  readonly page: number;
  readonly size: number;
  readonly versions: readonly ModelVersion[];
}

/** Options of {@link LocalModelCatalog}. */
export interface LocalCatalogOptions {
  /** The clock, for `createdAt` / `updatedAt`. @default () => new Date() */
  readonly now?: () => Date;
  /** Compare-and-swap attempts per page update. @default 200 */
  readonly attempts?: number;
}

/** The versions of the local registry, kept in an object store with the layout above. */
export class LocalModelCatalog implements ModelCatalog {
  readonly #store: ObjectStore;
  readonly #now: () => Date;
  readonly #attempts: number | undefined;

  constructor(store: ObjectStore, options: LocalCatalogOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
    this.#attempts = options.attempts;
  }

  /** {@inheritDoc ModelCatalog.register} */
  async register(input: RegisterInput): Promise<ModelVersion> {
    const known = await this.#all();
    const existing = known.find((v) => v.runId === input.runId && v.modelSha256 === input.modelSha256);
    if (existing !== undefined) return existing;

    const now = this.#now().toISOString();
    let version = known.length + 1;
    for (;;) {
      // head() first: a cheap way past numbers taken since the pages were read.
      if ((await this.#store.head(versionKey(version))) === undefined) {
        const record = newVersion(version, input, now);
        const { status } = await this.#store.putIfAbsent(versionKey(version), jsonBytes(record));
        if (status === 'created') {
          // Store it in its page (with any straggler before it), so reads stay one object per page.
          await this.#updatePage(version, () => undefined);
          return record;
        }
      }
      version += 1;
    }
  }

  /** {@inheritDoc ModelCatalog.get} */
  async get(version: number): Promise<ModelVersion> {
    const versions = await this.#readPage(pageOf(version), version);
    const found = versions[(version - 1) % PAGE_SIZE];
    if (found === undefined) throw notFound(version, this.#store);
    return found;
  }

  /** {@inheritDoc ModelCatalog.list} */
  async list(options: ListOptions = {}): Promise<ModelVersion[]> {
    const newestFirst = (await this.#all()).reverse();
    return options.limit === undefined ? newestFirst : newestFirst.slice(0, options.limit);
  }

  /** {@inheritDoc ModelCatalog.setStatus} */
  async setStatus(version: number, status: ModelStatus, reason: string): Promise<ModelVersion> {
    const updatedAt = this.#now().toISOString();
    const slot = (version - 1) % PAGE_SIZE;
    const page = await this.#updatePage(version, (versions) => {
      const current = versions[slot];
      if (current === undefined) throw notFound(version, this.#store);
      if (current.status === status && current.statusReason === reason) return undefined;
      const next = [...versions];
      next[slot] = { ...current, status, statusReason: reason, updatedAt };
      return next;
    });
    const updated = page.versions[slot];
    if (updated === undefined) throw notFound(version, this.#store);
    return updated;
  }

  /** Every version, oldest first: page after page, until a page does not fill up. */
  async #all(): Promise<ModelVersion[]> {
    const all: ModelVersion[] = [];
    for (let page = 1; ; page += 1) {
      const versions = await this.#readPage(page);
      all.push(...versions);
      if (versions.length < PAGE_SIZE) return all;
    }
  }

  /**
   * Page `page` as stored, with the stragglers after its last entry filled in from the version files
   * (up to version `through`, the end of the page, or the last claimed number, whichever is first).
   */
  async #readPage(page: number, through = page * PAGE_SIZE): Promise<ModelVersion[]> {
    const stored = await readJson<PageDocument>(this.#store, pageKey(page));
    return this.#withStragglers(page, stored?.value, through);
  }

  async #withStragglers(
    page: number,
    stored: PageDocument | undefined,
    through: number,
  ): Promise<ModelVersion[]> {
    const versions = stored === undefined ? [] : [...this.#checkPage(page, stored)];
    const last = Math.min(through, page * PAGE_SIZE);
    for (let version = (page - 1) * PAGE_SIZE + versions.length + 1; version <= last; version += 1) {
      const file = await readJson<ModelVersion>(this.#store, versionKey(version));
      if (file === undefined) break;
      if (file.value.version !== version) throw this.#corrupt(versionKey(version));
      versions.push(file.value);
    }
    return versions;
  }

  /**
   * Applies `change` to the page of `version` (stragglers through `version` filled in) by
   * compare-and-swap. `change` returns the page's new list, or `undefined` for no change; the page is
   * still written when stragglers were filled in.
   */
  async #updatePage(
    version: number,
    change: (versions: readonly ModelVersion[]) => readonly ModelVersion[] | undefined,
  ): Promise<PageDocument> {
    const page = pageOf(version);
    const stored = await updateJson<PageDocument>(
      this.#store,
      pageKey(page),
      async (current) => {
        const versions = await this.#withStragglers(page, current, version);
        const changed = change(versions);
        if (changed === undefined && versions.length === (current?.versions.length ?? 0)) return undefined;
        return { format: 1, page, size: PAGE_SIZE, versions: changed ?? versions };
      },
      this.#attempts === undefined ? {} : { attempts: this.#attempts },
    );
    return stored ?? { format: 1, page, size: PAGE_SIZE, versions: [] };
  }

  #checkPage(page: number, document: PageDocument): readonly ModelVersion[] {
    const first = (page - 1) * PAGE_SIZE + 1;
    if (
      document.format !== 1 ||
      document.page !== page ||
      document.size !== PAGE_SIZE ||
      !Array.isArray(document.versions) ||
      document.versions.length > PAGE_SIZE ||
      !document.versions.every((v, i) => v.version === first + i)
    ) {
      throw this.#corrupt(pageKey(page));
    }
    return document.versions;
  }

  #corrupt(key: string): IntegrityError {
    return new IntegrityError(`${key} in ${this.#store.location} is not what the registry wrote`, {
      hint: 'Restore it from a backup; the registry does not repair hand-edited files.',
    });
  }
}

/** Options of {@link localRegistry}. */
export interface LocalRegistryOptions extends LocalCatalogOptions, ChampionRegistryOptions {}

/** The local model registry in `store`: versions, approval and the champion. */
export function localRegistry(store: ObjectStore, options: LocalRegistryOptions = {}): ModelRegistry {
  return new ChampionRegistry(new LocalModelCatalog(store, options), store, options);
}

function newVersion(version: number, input: RegisterInput, now: string): ModelVersion {
  return {
    version,
    runId: input.runId,
    datasetVersion: input.datasetVersion,
    modelSha256: input.modelSha256,
    modelKey: input.modelKey,
    metrics: { primary: { ...input.metrics.primary }, holdout: { ...input.metrics.holdout } },
    status: input.status ?? 'PendingManualApproval',
    statusReason: input.statusReason ?? '',
    createdAt: now,
    updatedAt: now,
    ...(input.description === undefined ? {} : { description: input.description }),
  };
}

function notFound(version: number, store: ObjectStore): NotFoundError {
  return new NotFoundError(`there is no model version ${version} in the registry at ${store.location}`, {
    hint: 'List the versions with `driftline models ls`.',
  });
}
