// Unit tests live next to the code (src, *.test.ts); multi-process and real-peer tests in test/.
const tsJest = ['ts-jest', { diagnostics: false }];
module.exports = {
  // Builds dist/ once when sources changed, for the real-process tests.
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/src', '<rootDir>/bench'],
      testMatch: ['**/*.test.ts'],
      transform: { '^.+\\.ts$': tsJest },
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      transform: { '^.+\\.ts$': tsJest },
    },
  ],
};
