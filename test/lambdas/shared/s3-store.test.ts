import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client, S3ObjectStore, UPLOAD_PART_BYTES } from '../../../lambdas/shared/s3-store.ts';
import { ConflictError, IntegrityError, NotFoundError } from '../../../pipelines/errors.ts';
import { collect, describeObjectStoreContract, listAll } from '../../helpers/object-store-contract.ts';
import { type LocalS3, startLocalS3 } from '../../helpers/store-s3rver.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

let local: LocalS3 | undefined;
afterAll(async () => {
  await local?.stop();
});
async function localS3(): Promise<LocalS3> {
  if (local === undefined) {
    local = await startLocalS3();
    await local.createBucket('driftline-data');
  }
  return local;
}

describeObjectStoreContract(
  'S3ObjectStore on s3rver',
  async () =>
    new S3ObjectStore({ bucket: 'driftline-data', prefix: 'stage-a', client: (await localS3()).client }),
  { enforcesConditionalWrites: false, listsInKeyOrder: false },
);

describe('S3ObjectStore on s3rver', () => {
  it('keeps each prefix to itself and names its location', async () => {
    const { client } = await localS3();
    const a = new S3ObjectStore({ bucket: 'driftline-data', prefix: '/stage-b/', client });
    const c = new S3ObjectStore({ bucket: 'driftline-data', prefix: 'stage-c', client });
    await a.putIfAbsent('refs/x', encode('b'));
    await c.putIfAbsent('refs/x', encode('c'));
    expect(a.location).toBe('s3://driftline-data/stage-b/');
    expect(await listAll(a, 'refs/')).toEqual([{ key: 'refs/x', size: 1, etag: expect.any(String) }]);
    expect(new TextDecoder().decode((await c.readBytes('refs/x'))?.bytes)).toBe('c');
    const raw = await client.send(new GetObjectCommand({ Bucket: 'driftline-data', Key: 'stage-b/refs/x' }));
    expect(await raw.Body?.transformToString()).toBe('b');
  });
});

describe('S3ObjectStore commands (SDK mock: conditional writes s3rver does not enforce)', () => {
  const client = createS3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const s3 = mockClient(client);
  const store = new S3ObjectStore({ bucket: 'data-bucket', prefix: 'prod', client });
  beforeEach(() => {
    s3.reset();
  });
  afterAll(() => {
    s3.restore();
  });

  it('configures checksums only where S3 requires them', async () => {
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
  });

  it('putIfAbsent with bytes sends PutObject with If-None-Match: *', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    const body = encode('{"a":1}');
    expect(await store.putIfAbsent('runs/r1/run.json', body)).toEqual({ status: 'created' });
    expect(s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'data-bucket', Key: 'prod/runs/r1/run.json', Body: body, IfNoneMatch: '*' },
    ]);
  });

  it('putIfAbsent maps 412 PreconditionFailed to exists', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    expect(await store.putIfAbsent('runs/r1/run.json', encode('x'))).toEqual({ status: 'exists' });
  });

  it('putIfAbsent retries 409 ConditionalRequestConflict, then gives a ConflictError naming the key', async () => {
    s3.on(PutObjectCommand).rejectsOnce(s3Error('ConditionalRequestConflict', 409)).resolves({ ETag: '"e"' });
    expect(await store.putIfAbsent('runs/r1/run.json', encode('x'))).toEqual({ status: 'created' });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(2);

    s3.reset();
    s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
    const failure = store.putIfAbsent('runs/r1/run.json', encode('x'));
    await expect(failure).rejects.toBeInstanceOf(ConflictError);
    await expect(failure).rejects.toThrow('runs/r1/run.json');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(3);
  });

  it('putIfAbsent with a small stream: HeadObject, then one PutObject with If-None-Match: *', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    expect(await store.putIfAbsent('capture/a.jsonl', chunks(['{"x":1}\n', '{"x":2}\n']))).toEqual({
      status: 'created',
    });
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'data-bucket',
      Key: 'prod/capture/a.jsonl',
    });
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Bucket: 'data-bucket', Key: 'prod/capture/a.jsonl', IfNoneMatch: '*' });
    expect(new TextDecoder().decode(put?.Body as Uint8Array)).toBe('{"x":1}\n{"x":2}\n');
  });

  it('putIfAbsent with a large stream: multipart, If-None-Match: * on CompleteMultipartUpload', async () => {
    // Prepare: 2.5 parts
    s3.on(HeadObjectCommand).rejects(notFound());
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    s3.on(UploadPartCommand).callsFake((input: { PartNumber?: number }) => ({
      ETag: `"p${input.PartNumber}"`,
    }));
    s3.on(CompleteMultipartUploadCommand).resolves({ ETag: '"e-3"' });
    // Act
    const result = await store.putIfAbsent('datasets/d/versions/v/data.csv', sized(2.5 * UPLOAD_PART_BYTES));
    // Assess
    expect(result).toEqual({ status: 'created' });
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'data-bucket',
      Key: 'prod/datasets/d/versions/v/data.csv',
    });
    const parts = s3.commandCalls(UploadPartCommand).map((call) => call.args[0].input);
    expect(
      parts.map((part) => [part.PartNumber, part.UploadId, (part.Body as Uint8Array).byteLength]),
    ).toEqual([
      [1, 'upload-1', UPLOAD_PART_BYTES],
      [2, 'upload-1', UPLOAD_PART_BYTES],
      [3, 'upload-1', UPLOAD_PART_BYTES / 2],
    ]);
    const complete = s3.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input;
    expect(complete).toMatchObject({
      Bucket: 'data-bucket',
      Key: 'prod/datasets/d/versions/v/data.csv',
      UploadId: 'upload-1',
      IfNoneMatch: '*',
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"p1"' },
          { PartNumber: 2, ETag: '"p2"' },
          { PartNumber: 3, ETag: '"p3"' },
        ],
      },
    });
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });

  it('a multipart completion refused with 412 is exists, and the upload is aborted', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-2' });
    s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
    s3.on(CompleteMultipartUploadCommand).rejects(s3Error('PreconditionFailed', 412));
    expect(await store.putIfAbsent('runs/r/model.onnx', sized(1.5 * UPLOAD_PART_BYTES))).toEqual({
      status: 'exists',
    });
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'data-bucket', Key: 'prod/runs/r/model.onnx', UploadId: 'upload-2' },
    ]);
  });

  it('a multipart completion refused with 409: exists if the competing write landed, else ConflictError', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-3' });
    s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
    s3.on(CompleteMultipartUploadCommand).rejects(s3Error('ConditionalRequestConflict', 409));

    s3.on(HeadObjectCommand).rejectsOnce(notFound()).resolves({ ContentLength: 1, ETag: '"other"' });
    expect(await store.putIfAbsent('runs/r/model.onnx', sized(1.5 * UPLOAD_PART_BYTES))).toEqual({
      status: 'exists',
    });

    s3.on(HeadObjectCommand).rejects(notFound());
    const failure = store.putIfAbsent('runs/r/model.onnx', sized(1.5 * UPLOAD_PART_BYTES));
    await expect(failure).rejects.toBeInstanceOf(ConflictError);
    await expect(failure).rejects.toThrow('runs/r/model.onnx');
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(2);
  });

  it('putIfAbsent with a stream on an existing key uploads nothing and releases the stream', async () => {
    s3.on(HeadObjectCommand).resolves({ ContentLength: 3, ETag: '"e"' });
    let released = false;
    const body = (async function* () {
      try {
        yield encode('never read');
      } finally {
        released = true;
      }
    })();
    await body.next(); // started, as an open file stream would be
    expect(await store.putIfAbsent('runs/r/model.onnx', body)).toEqual({ status: 'exists' });
    expect(released).toBe(true);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it('putIfMatch sends If-Match with the etag and returns the new ETag', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"new"' });
    const body = encode('v2');
    expect(await store.putIfMatch('datasets/d/refs/latest', body, '"old"')).toBe('"new"');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'data-bucket',
      Key: 'prod/datasets/d/refs/latest',
      Body: body,
      IfMatch: '"old"',
    });
  });

  it('putIfMatch with null sends If-None-Match: *', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"first"' });
    const body = encode('v1');
    expect(await store.putIfMatch('datasets/d/refs/latest', body, null)).toBe('"first"');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'data-bucket',
      Key: 'prod/datasets/d/refs/latest',
      Body: body,
      IfNoneMatch: '*',
    });
  });

  it('putIfMatch maps 412 (stale etag, or present when null expected) and 404 to ConflictError', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    const stale = store.putIfMatch('datasets/d/refs/latest', encode('v'), '"old"');
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await expect(stale).rejects.toThrow('datasets/d/refs/latest in s3://data-bucket/prod/ changed');
    await expect(store.putIfMatch('datasets/d/refs/latest', encode('v'), null)).rejects.toThrow(
      /already exists/,
    );
    s3.on(PutObjectCommand).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'gone' }));
    await expect(store.putIfMatch('datasets/d/refs/latest', encode('v'), '"old"')).rejects.toThrow(
      /does not exist/,
    );
  });

  it('putIfMatch retries a 409 ConditionalRequestConflict with the same condition', async () => {
    s3.on(PutObjectCommand).rejectsOnce(s3Error('ConditionalRequestConflict', 409)).resolves({ ETag: '"n"' });
    expect(await store.putIfMatch('refs/champion', encode('m2'), '"m1"')).toBe('"n"');
    const calls = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.IfMatch);
    expect(calls).toEqual(['"m1"', '"m1"']);
  });

  it('head maps 404 to undefined; other failures name the object', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    expect(await store.head('refs/x')).toBeUndefined();
    s3.on(HeadObjectCommand).rejects(s3Error('AccessDenied', 403));
    await expect(store.head('refs/x')).rejects.toThrow(
      'S3 HeadObject of s3://data-bucket/prod/refs/x failed',
    );
  });

  it('read maps NoSuchKey to NotFoundError, readBytes to undefined', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'no' }));
    const failure = store.read('runs/none/model.onnx');
    await expect(failure).rejects.toBeInstanceOf(NotFoundError);
    await expect(failure).rejects.toThrow('runs/none/model.onnx');
    expect(await store.readBytes('runs/none/model.onnx')).toBeUndefined();
  });

  it('a body shorter than its Content-Length is an IntegrityError', async () => {
    const short = (async function* () {
      yield encode('abc');
    })();
    s3.on(GetObjectCommand).resolves({
      Body: Object.assign(short, {
        transformToByteArray: async () => encode('abc'),
      }) as unknown as GetObjectCommandOutput['Body'],
      ContentLength: 5,
      ETag: '"e"',
    });
    await expect(store.readBytes('refs/x')).rejects.toBeInstanceOf(IntegrityError);
    await expect(collect(await store.read('refs/x'))).rejects.toBeInstanceOf(IntegrityError);
  });

  it('list pages through ListObjectsV2 under the store prefix and strips it', async () => {
    // The paginator reuses one input object, so each call's input is copied when it is made.
    const pages: ListObjectsV2CommandOutput[] = [
      {
        Contents: [{ Key: 'prod/datasets/a', Size: 1, ETag: '"a"' }],
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        $metadata: {},
      },
      { Contents: [{ Key: 'prod/datasets/b', Size: 2, ETag: '"b"' }], IsTruncated: false, $metadata: {} },
    ];
    const inputs: ListObjectsV2CommandInput[] = [];
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
      inputs.push({ ...input });
      return pages.shift();
    });
    expect(await listAll(store, 'datasets/')).toEqual([
      { key: 'datasets/a', size: 1, etag: '"a"' },
      { key: 'datasets/b', size: 2, etag: '"b"' },
    ]);
    expect(inputs).toEqual([
      { Bucket: 'data-bucket', Prefix: 'prod/datasets/' },
      { Bucket: 'data-bucket', Prefix: 'prod/datasets/', ContinuationToken: 'page-2' },
    ]);
  });
});

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

function notFound(): NotFound {
  return new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'Not Found' });
}

async function* chunks(texts: readonly string[]): AsyncGenerator<Uint8Array> {
  for (const text of texts) yield encode(text);
}

/** A stream of `size` zero bytes in 1 MiB chunks. */
async function* sized(size: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; sent += 1024 * 1024)
    yield new Uint8Array(Math.min(1024 * 1024, size - sent));
}
