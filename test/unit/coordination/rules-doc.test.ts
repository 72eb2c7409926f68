// docs/rules.md is the public rule catalogue: it must list exactly the rules the engine runs, in order,
// and the engine must run exactly the contract's rule ids.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RULE_IDS } from '../../../src/coordination/codes.js';
import { RULES } from '../../../src/coordination/rules/index.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/rules.md', import.meta.url)), 'utf8');

describe('rule catalogue', () => {
  it('docs/rules.md lists exactly the exported rules, in order', () => {
    const headings = [...doc.matchAll(/^## `([a-z-]+)`$/gm)].map((m) => m[1]);
    expect(headings).toEqual(RULES.map((r) => r.id));
  });

  it('the exported rules are the contract\'s 14 rule ids', () => {
    expect(RULES.map((r) => r.id)).toEqual([...RULE_IDS]);
    expect(new Set(RULES.map((r) => r.id)).size).toBe(14);
  });

  it('every documented example carries its own rule code', () => {
    for (const rule of RULES) {
      const section = doc.split(/^## /m).find((s) => s.startsWith(`\`${rule.id}\``)) ?? '';
      expect(section).toContain(`"code": "${rule.id}"`);
    }
  });
});
