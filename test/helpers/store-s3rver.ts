/**
 * s3rver on loopback for tests: a real S3 API (objects, listing, multipart) on a random port over a
 * temp folder, in a child process of its own. It ignores conditional headers, so conditional-write
 * semantics are tested with SDK mocks instead.
 */

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lambdas/shared/s3-store.ts';

const SERVER = fileURLToPath(new URL('./store-s3rver-process.ts', import.meta.url));

/** A running s3rver and a client configured for it. */
export interface LocalS3 {
  readonly client: S3Client;
  readonly endpoint: string;
  /** Creates a bucket. */
  createBucket(name: string): Promise<void>;
  /** Stops the server, destroys the client and removes the folder. */
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 on a free port, storing in a fresh temp folder. */
export async function startLocalS3(): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'driftline-s3rver-'));
  const server = fork(SERVER, [directory], {
    execPath: process.execPath,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(server, 'exit');
  const [ready] = (await Promise.race([
    once(server, 'message'),
    exited.then(([code]) => {
      throw new Error(`s3rver exited (${code}) before listening`);
    }),
  ])) as [{ port: number }];
  const port = ready.port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    client,
    endpoint,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      if (server.exitCode === null && server.signalCode === null) {
        server.send('stop');
        const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
