import { defineConfig } from 'vitest/config';

const shared = {
  globalSetup: ['test/helpers/global-setup.ts'],
  testTimeout: 30_000,
  hookTimeout: 30_000,
};

export default defineConfig({
  test: {
    // End-to-end tests start real processes; two cores run them comfortably two at a time.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/e2e/leaks.test.ts', 'test/integration/connection-budget.test.ts', 'test/deploy/image.test.ts', 'test/conformance/**'], sequence: { groupOrder: 0 } } },
      // The conformance suite runs thousands of attempts per check type: alone, after the timing-sensitive tests.
      { test: { ...shared, name: 'conformance', include: ['test/conformance/**/*.test.ts'], sequence: { groupOrder: 1 } } },
      // The leak check and the connection budget load the machine for half a minute or more: alone too.
      { test: { ...shared, name: 'leaks', include: ['test/e2e/leaks.test.ts', 'test/integration/connection-budget.test.ts'], sequence: { groupOrder: 2 } } },
      // The image built and run by a container engine: a build loads both cores for a minute or two
      // when its cache is cold, so it runs last, alone. The build is in its beforeAll.
      { test: { ...shared, name: 'image', include: ['test/deploy/image.test.ts'], hookTimeout: 900_000, testTimeout: 120_000, sequence: { groupOrder: 3 } } },
    ],
  },
});
