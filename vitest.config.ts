import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CDK synthesis and onnxruntime sessions are memory-hungry; two workers fit a 2-core machine.
    maxWorkers: 2,
  },
});
