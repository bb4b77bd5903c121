/**
 * Runs s3rver in its own process (forked by `store-s3rver.ts`), so that a test measuring the client's
 * memory does not count the server's, as with real S3. Argument: the data folder. Reports
 * `{ port }` over IPC once listening on 127.0.0.1, and stops when told to or when the test goes away.
 */
import S3rver from 's3rver';

const directory = process.argv[2];
if (directory === undefined || process.send === undefined) {
  throw new Error('usage: fork store-s3rver-process.ts <directory>');
}
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
const { port } = await server.run();

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  if (process.connected) process.disconnect();
}
process.on('message', () => void stop());
process.on('disconnect', () => void stop());
process.send({ port });
