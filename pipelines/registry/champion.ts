/**
 * The champion on top of a catalog of versions: one implementation of the promotion and rollback
 * rules for every registry adapter. SageMaker Model Registry has versions and approval but no notion
 * of "the version being served", so the champion pointer always lives in the object store
 * (`registry/champion.json`, locally and in S3) and changes only by compare-and-swap: two concurrent
 * promotions or rollbacks both take effect, one after the other, and no previous champion is lost.
 */
import { ConflictError, InputError, IntegrityError, NotFoundError } from '../errors.ts';
import { readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type {
  Champion,
  ChampionTerm,
  ListOptions,
  ModelCatalog,
  ModelRegistry,
  ModelStatus,
  ModelVersion,
  RegisterInput,
  ServedModel,
} from './registry.ts';
import {
  checkReason,
  checkRegisterInput,
  checkVersionNumber,
  MAX_TEXT_LENGTH,
  MODEL_STATUSES,
} from './registry.ts';

/** Where the champion pointer is kept, in the local store and in the S3 bucket alike. */
export const CHAMPION_KEY = 'registry/champion.json';

/**
 * How many previous champions the pointer remembers. Rollbacks rarely go more than a step or two
 * back; the bound keeps the pointer a small ref however many promotions a project sees.
 */
export const MAX_PREVIOUS_CHAMPIONS = 100;

/** Options of {@link ChampionRegistry}. */
export interface ChampionRegistryOptions {
  /** @default CHAMPION_KEY */
  readonly championKey?: string;
  /** The clock, for `since`. @default () => new Date() */
  readonly now?: () => Date;
  /** Compare-and-swap attempts per change of the pointer. @default 200 */
  readonly attempts?: number;
}

/** The stored pointer: the champion plus a format number so the layout can evolve. */
interface ChampionDocument extends Champion {
  readonly format: 1;
}

/**
 * A {@link ModelRegistry} made of an adapter's {@link ModelCatalog} and the champion pointer in an
 * object store. It checks every input once, here, so all adapters accept and refuse the same things.
 */
export class ChampionRegistry implements ModelRegistry {
  readonly #catalog: ModelCatalog;
  readonly #store: ObjectStore;
  readonly #key: string;
  readonly #now: () => Date;
  readonly #attempts: number | undefined;

  constructor(catalog: ModelCatalog, store: ObjectStore, options: ChampionRegistryOptions = {}) {
    this.#catalog = catalog;
    this.#store = store;
    this.#key = options.championKey ?? CHAMPION_KEY;
    this.#now = options.now ?? (() => new Date());
    this.#attempts = options.attempts;
  }

  /** {@inheritDoc ModelCatalog.register} */
  async register(input: RegisterInput): Promise<ModelVersion> {
    checkRegisterInput(input);
    return this.#catalog.register(input);
  }

  /** {@inheritDoc ModelCatalog.get} */
  async get(version: number): Promise<ModelVersion> {
    checkVersionNumber(version);
    return this.#catalog.get(version);
  }

  /** {@inheritDoc ModelCatalog.list} */
  async list(options: ListOptions = {}): Promise<ModelVersion[]> {
    if (options.limit !== undefined && !(Number.isSafeInteger(options.limit) && options.limit > 0)) {
      throw new InputError(`cannot list ${options.limit} versions`, {
        details: [{ path: 'limit', message: 'expected a positive integer' }],
      });
    }
    return this.#catalog.list(options);
  }

  /**
   * {@inheritDoc ModelCatalog.setStatus}
   * @throws ConflictError when it would take approval away from the serving champion
   */
  async setStatus(version: number, status: ModelStatus, reason: string): Promise<ModelVersion> {
    checkVersionNumber(version);
    if (!MODEL_STATUSES.includes(status)) {
      throw new InputError(`unknown model status ${JSON.stringify(status)}`, {
        details: [{ path: 'status', message: `expected one of ${MODEL_STATUSES.join(', ')}` }],
      });
    }
    checkReason(reason);
    if (status !== 'Approved') {
      const champion = await this.champion();
      if (champion?.version === version) {
        throw new ConflictError(
          `version ${version} is the champion being served; it cannot become ${status}`,
          {
            hint: 'Roll back or promote another version first, then change its status.',
          },
        );
      }
    }
    return this.#catalog.setStatus(version, status, reason);
  }

  /** {@inheritDoc ModelRegistry.champion} */
  async champion(): Promise<Champion | undefined> {
    const stored = await readJson<ChampionDocument>(this.#store, this.#key);
    return stored === undefined ? undefined : this.#parse(stored.value);
  }

  /** {@inheritDoc ModelRegistry.promote} */
  async promote(version: number, reason: string): Promise<Champion> {
    checkVersionNumber(version);
    checkReason(reason);
    const target = await this.#catalog.get(version);
    if (target.status === 'Rejected') {
      throw new ConflictError(
        `version ${version} was rejected${target.statusReason === '' ? '' : ` (${target.statusReason})`}; a rejected version cannot become champion`,
        { hint: 'Promote another version, or approve this one first if rejecting it was a mistake.' },
      );
    }
    if (target.status === 'PendingManualApproval') {
      // Promoting is the approval decision; record it on the version so the registry tells why.
      await this.#catalog.setStatus(
        version,
        'Approved',
        `approved by promotion: ${reason}`.slice(0, MAX_TEXT_LENGTH),
      );
    }
    const since = this.#now().toISOString();
    const stored = await updateJson<ChampionDocument>(
      this.#store,
      this.#key,
      (current) => {
        const champion = current === undefined ? undefined : this.#parse(current);
        if (champion?.version === version) return undefined; // already serving: nothing to change
        const previous = champion === undefined ? [] : [term(champion), ...champion.previous];
        return {
          format: 1,
          version,
          since,
          reason,
          model: servedModel(target),
          // A version appears once in the history: rolling back never lands on the champion itself.
          previous: previous.filter((entry) => entry.version !== version).slice(0, MAX_PREVIOUS_CHAMPIONS),
        };
      },
      this.#options(),
    );
    return this.#parse(required(stored, this.#key));
  }

  /** {@inheritDoc ModelRegistry.rollback} */
  async rollback(reason: string): Promise<Champion> {
    checkReason(reason);
    const since = this.#now().toISOString();
    const stored = await updateJson<ChampionDocument>(
      this.#store,
      this.#key,
      async (current) => {
        if (current === undefined) {
          throw new ConflictError('no previous champion: no version has been promoted yet');
        }
        const champion = this.#parse(current);
        const skipped: number[] = [];
        for (const [index, entry] of champion.previous.entries()) {
          const earlier = await this.#stillApproved(entry.version);
          if (earlier !== undefined) {
            return {
              format: 1,
              version: entry.version,
              since,
              reason,
              model: servedModel(earlier),
              previous: champion.previous.slice(index + 1),
            };
          }
          skipped.push(entry.version);
        }
        throw new ConflictError(
          skipped.length === 0
            ? `no previous champion: version ${champion.version} is the only one ever promoted`
            : `no previous champion: the earlier champions (${skipped.join(', ')}) are no longer approved`,
          { hint: 'Promote a version instead.' },
        );
      },
      this.#options(),
    );
    return this.#parse(required(stored, this.#key));
  }

  /** An earlier champion if it may serve again (it may have been rejected or deleted since). */
  async #stillApproved(version: number): Promise<ModelVersion | undefined> {
    try {
      const found = await this.#catalog.get(version);
      return found.status === 'Approved' ? found : undefined;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  #options(): { attempts?: number } {
    return this.#attempts === undefined ? {} : { attempts: this.#attempts };
  }

  /** The stored pointer as a {@link Champion}, refusing a document this code did not write. */
  #parse(document: ChampionDocument): Champion {
    if (
      document.format !== 1 ||
      !isTerm(document) ||
      typeof document.model !== 'object' ||
      document.model === null ||
      typeof document.model.key !== 'string' ||
      typeof document.model.sha256 !== 'string' ||
      !Array.isArray(document.previous) ||
      !document.previous.every(isTerm)
    ) {
      throw new IntegrityError(`${this.#key} in ${this.#store.location} is not a champion pointer`, {
        hint: 'Restore it from the bucket history, or promote a version to rewrite it.',
      });
    }
    return { ...term(document), model: document.model, previous: document.previous.map(term) };
  }
}

function servedModel(version: ModelVersion): ServedModel {
  return {
    key: version.modelKey,
    sha256: version.modelSha256,
    runId: version.runId,
    datasetVersion: version.datasetVersion,
    metrics: version.metrics,
    createdAt: version.createdAt,
  };
}

function term(entry: ChampionTerm): ChampionTerm {
  return { version: entry.version, since: entry.since, reason: entry.reason };
}

function isTerm(value: unknown): value is ChampionTerm {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(entry.version) && typeof entry.since === 'string' && typeof entry.reason === 'string'
  );
}

function required<T>(value: T | undefined, key: string): T {
  if (value === undefined) throw new IntegrityError(`${key} vanished while it was being updated`);
  return value;
}
