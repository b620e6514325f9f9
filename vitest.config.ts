import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Long runs: `make soak` (SOAK=1).
    exclude: process.env.SOAK ? [] : ["test/soak/**"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false, // the tests train small models: two at once only fight over 2 cores
  },
});
