/**
 * The S3 adapter of the storage port. Objects live under `s3://<bucket>/<prefix>` with the layout of
 * DESIGN.md; the two write kinds map to S3 conditional writes:
 * - `putIfAbsent` → `If-None-Match: *` on PutObject, or on CompleteMultipartUpload for streamed
 *   bodies, so S3 itself refuses a second object at the key (412);
 * - `putIfMatch` → `If-Match: <etag>` (or `If-None-Match: *` for a new ref) on PutObject.
 * A 409 ConditionalRequestConflict means another write to the key was in flight: retried where the body
 * can be sent again, a ConflictError otherwise.
 */

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ConflictError,
  DriftlineError,
  InputError,
  IntegrityError,
  NotFoundError,
} from '../../pipelines/errors.ts';
import { assertKeyPrefix, assertObjectKey, MAX_REF_BYTES } from '../../pipelines/storage/object-key.ts';
import type {
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutIfAbsentResult,
} from '../../pipelines/storage/object-store.ts';

/**
 * Multipart part size for streamed bodies: S3's minimum, so memory stays small (about 36 MB measured for
 * a 64 MB stream with {@link UPLOAD_QUEUE} parts in flight); S3's 10,000-part limit then caps a streamed
 * object at about 48 GiB, far above what Driftline stores.
 */
export const UPLOAD_PART_BYTES = 5 * 1024 * 1024;
/** Parts uploaded at once: enough to keep the connection busy, few enough to keep a Lambda small. */
export const UPLOAD_QUEUE = 2;
/** Attempts of a replayable write that meets 409 ConditionalRequestConflict. */
const CONFLICT_ATTEMPTS = 3;

/**
 * Creates an S3 client with the settings this adapter relies on, over any extra `config` (region,
 * endpoint, credentials …).
 *
 * Checksums are computed and validated only when an operation requires them: by default the SDK adds
 * CRC32 checksums to every upload, which for streams of unknown length means aws-chunked framing with
 * a trailing checksum; S3-compatible stores that do not understand it (s3rver, used in tests) keep the
 * framing as object content and return corrupted bytes without an error. End-to-end integrity does not
 * rest on transport checksums here: dataset versions and models are addressed and verified by sha256.
 */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    ...config,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

// One client per Lambda execution environment, created on first use and reused across invocations
// (connection reuse); tests and tools inject their own.
let sharedClient: S3Client | undefined;
function defaultClient(): S3Client {
  sharedClient ??= createS3Client();
  return sharedClient;
}

/** Where an {@link S3ObjectStore} keeps its objects. */
export interface S3ObjectStoreOptions {
  /** The data bucket. */
  readonly bucket: string;
  /** Key prefix inside the bucket, e.g. a stage name. @default '' (the bucket root) */
  readonly prefix?: string;
  /** An S3 client; use {@link createS3Client} for the required checksum settings. @default shared client */
  readonly client?: S3Client;
}

/** The S3 implementation of {@link ObjectStore}. */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #client: S3Client;

  constructor(options: S3ObjectStoreOptions) {
    if (options.bucket === '') throw new InputError('S3ObjectStore needs a bucket name');
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertObjectKey(prefix);
    this.#bucket = options.bucket;
    this.#prefix = prefix === '' ? '' : `${prefix}/`;
    this.#client = options.client ?? defaultClient();
    this.location = `s3://${this.#bucket}/${this.#prefix}`;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#s3Key(key) }),
      );
      return { key, size: out.ContentLength ?? 0, etag: this.#etag(key, out.ETag) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.#failure('HeadObject', key, error);
    }
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array>> {
    const s3Key = this.#s3Key(key);
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: s3Key }));
      const body = out.Body;
      if (body === undefined || !(Symbol.asyncIterator in body)) {
        throw new Error(`GetObject of ${this.#url(key)} returned no readable body`);
      }
      return this.#checkedStream(key, body as AsyncIterable<Uint8Array>, out.ContentLength);
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new NotFoundError(`object ${key} does not exist in ${this.location}`, { cause: error });
      }
      throw this.#failure('GetObject', key, error);
    }
  }

  async readBytes(key: string): Promise<{ readonly bytes: Uint8Array; readonly etag: string } | undefined> {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#s3Key(key) }),
      );
      if (out.Body === undefined) throw new Error(`GetObject of ${this.#url(key)} returned no body`);
      const bytes = await out.Body.transformToByteArray();
      this.#checkLength(key, bytes.byteLength, out.ContentLength);
      return { bytes, etag: this.#etag(key, out.ETag) };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.#failure('GetObject', key, error);
    }
  }

  async putIfAbsent(key: string, body: ObjectBody): Promise<PutIfAbsentResult> {
    const s3Key = this.#s3Key(key);
    if (body instanceof Uint8Array) {
      const outcome = await this.#putConditionally(key, { Body: body, IfNoneMatch: '*' });
      return { status: outcome === 'precondition-failed' ? 'exists' : 'created' };
    }
    // A stream is read once: look before uploading what S3 would refuse anyway.
    if ((await this.head(key)) !== undefined) {
      await body[Symbol.asyncIterator]().return?.();
      return { status: 'exists' };
    }
    const upload = new Upload({
      client: this.#client,
      // lib-storage spreads these params into PutObject (bodies smaller than one part) and into
      // CompleteMultipartUpload, so IfNoneMatch guards the moment the object becomes visible. A failed
      // completion is aborted by Upload (leavePartsOnError: false), so no parts linger.
      params: {
        Bucket: this.#bucket,
        Key: s3Key,
        Body: Readable.from(body, { objectMode: false }),
        IfNoneMatch: '*',
      },
      partSize: UPLOAD_PART_BYTES,
      queueSize: UPLOAD_QUEUE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      return { status: 'created' };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412) return { status: 'exists' };
      if (status === 409) {
        // The parts are gone with the aborted upload and the stream is spent, so S3's advice (start the
        // multipart upload again) is the caller's to follow — unless the competing write created it.
        if ((await this.head(key)) !== undefined) return { status: 'exists' };
        throw new ConflictError(`a concurrent write to ${key} in ${this.location} interrupted this one`, {
          hint: 'Nothing was stored; write the object again.',
          cause: error,
        });
      }
      throw this.#failure('multipart upload', key, error);
    }
  }

  async putIfMatch(key: string, body: Uint8Array, expectedEtag: string | null): Promise<string> {
    this.#s3Key(key);
    if (body.byteLength > MAX_REF_BYTES) {
      throw new InputError(
        `ref ${key} would be ${body.byteLength} bytes; compare-and-swap writes take at most ${MAX_REF_BYTES}`,
        { hint: 'Store large content as an immutable object and point to it from the ref.' },
      );
    }
    const condition = expectedEtag === null ? { IfNoneMatch: '*' } : { IfMatch: expectedEtag };
    const outcome = await this.#putConditionally(key, { Body: body, ...condition });
    if (outcome === 'precondition-failed') {
      throw new ConflictError(
        expectedEtag === null
          ? `ref ${key} already exists in ${this.location}; expected it to be absent`
          : `ref ${key} in ${this.location} changed since it was read (expected etag ${expectedEtag})`,
        { hint: 'Read the ref again and retry with its current etag.' },
      );
    }
    if (outcome === 'missing') {
      throw new ConflictError(
        `ref ${key} does not exist in ${this.location}; expected etag ${expectedEtag}`,
        {
          hint: 'Read the ref again and retry.',
        },
      );
    }
    return outcome.etag;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertKeyPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.#client },
      { Bucket: this.#bucket, Prefix: `${this.#prefix}${prefix}` },
    );
    try {
      // S3 lists keys in ascending UTF-8 byte order, the order the port promises.
      for await (const page of pages) {
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          const key = item.Key.slice(this.#prefix.length);
          yield { key, size: item.Size ?? 0, etag: this.#etag(key, item.ETag) };
        }
      }
    } catch (error) {
      throw this.#failure('ListObjectsV2', prefix, error);
    }
  }

  /**
   * A PutObject whose body can be sent again, retried on 409 ConditionalRequestConflict (another
   * conditional write to the key was in flight; S3 asks to retry). 412 and 404 are outcomes, not errors.
   */
  async #putConditionally(
    key: string,
    input: { readonly Body: Uint8Array; readonly IfNoneMatch?: string; readonly IfMatch?: string },
  ): Promise<{ readonly etag: string } | 'precondition-failed' | 'missing'> {
    const s3Key = this.#s3Key(key);
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.#client.send(
          new PutObjectCommand({ Bucket: this.#bucket, Key: s3Key, ...input }),
        );
        return { etag: this.#etag(key, out.ETag) };
      } catch (error) {
        const status = statusOf(error);
        if (status === 412) return 'precondition-failed';
        if (status === 404 && input.IfMatch !== undefined) return 'missing';
        if (status !== 409) throw this.#failure('PutObject', key, error);
        if (attempt >= CONFLICT_ATTEMPTS) {
          throw new ConflictError(`concurrent writes to ${key} in ${this.location} kept conflicting`, {
            hint: 'Another writer is updating the same key; try again.',
            cause: error,
          });
        }
        await sleep(50 * attempt * (1 + Math.random()));
      }
    }
  }

  async *#checkedStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    expected: number | undefined,
  ): AsyncGenerator<Uint8Array> {
    let received = 0;
    for await (const chunk of body) {
      received += chunk.byteLength;
      yield chunk;
    }
    this.#checkLength(key, received, expected);
  }

  /** A body shorter or longer than announced is a broken transfer, never a valid object. */
  #checkLength(key: string, received: number, expected: number | undefined): void {
    if (expected !== undefined && received !== expected) {
      throw new IntegrityError(
        `object ${key} in ${this.location}: got ${received} bytes, S3 announced ${expected}`,
      );
    }
  }

  #s3Key(key: string): string {
    assertObjectKey(key);
    return `${this.#prefix}${key}`;
  }

  #url(key: string): string {
    return `${this.location}${key}`;
  }

  #etag(key: string, etag: string | undefined): string {
    if (etag === undefined || etag === '') throw new Error(`S3 returned no ETag for ${this.#url(key)}`);
    return etag;
  }

  /** Keeps typed errors, and names the operation and the object in anything else. */
  #failure(operation: string, key: string, error: unknown): Error {
    if (error instanceof DriftlineError) return error;
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    return new Error(`S3 ${operation} of ${this.#url(key)} failed: ${name}: ${message}`, { cause: error });
  }
}

/** The HTTP status of an SDK error (`$metadata.httpStatusCode`), if it carries one. */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = error.$metadata;
  if (typeof metadata !== 'object' || metadata === null || !('httpStatusCode' in metadata)) return undefined;
  return typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}
