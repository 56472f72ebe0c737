// The fixed set of failure reasons is the `reason` label's whole range: documented where operators
// read it, every one of them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURE_REASONS } from '../../src/errors.js';

describe('failure reasons', () => {
  it('are all named in README.md and docs/operations.md', () => {
    for (const file of ['README.md', 'docs/operations.md']) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      for (const reason of FAILURE_REASONS) expect(text, `${reason} in ${file}`).toContain(`\`${reason}\``);
    }
  });
});
