import { describe, expect, it } from 'vitest';
import { runDriftline } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('driftline demo (npm start)', () => {
  it('runs the lifecycle on the real flights data: push, train, promote, serve, swap', async () => {
    const dir = await tempDir('driftline-demo-');
    const result = await runDriftline(['demo', '--json'], dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const log = (JSON.parse(result.stdout).log as string[]).join('\n');
    expect(log).toMatch(/1\. data: US domestic flights of Jan–Feb 2001 \(12901\) and Jan–Mar 2001 \(20000\)/);
    expect(log).toMatch(/3\. data push: flights-demo@[0-9a-f]{12} \(12901 rows, tag jan-feb, latest\)/);
    expect(log).toMatch(/4\. train: run \S+ → model version 1/);
    expect(log).toMatch(/POST \/predict → 200, model version 1/);
    expect(log).toMatch(/POST \/feedback \(3 ground-truth labels\) → 202/);
    expect(log).toMatch(/POST \/predict with a bad instance → 400: .*instances\[0\]\.hour/);
    expect(log).toMatch(/7\. data push: flights-demo@[0-9a-f]{12} \(20000 rows, parent [0-9a-f]{12}\)/);
    expect(log).toMatch(/9\. models promote 2: the running server swapped to version 2 after/);
    expect(log).toMatch(/10\. serve stopped; [1-9]\d* capture file\(s\)/);
  });
});
