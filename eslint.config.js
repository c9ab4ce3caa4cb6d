// Lint is part of `npm test`: typescript-eslint's recommended rules over the sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'tools/kafka/target/**', 'out/**', '.tributary/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Date.now() belongs to the injected clock (lib/time/clock.ts), never to operator code.
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'use the injected Clock (lib/time/clock.ts)' }],
    },
  },
  { files: ['lib/time/clock.ts', 'scripts/**', 'test/**', 'benchmarks/**', 'bin/**'], rules: { 'no-restricted-properties': 'off' } },
);
