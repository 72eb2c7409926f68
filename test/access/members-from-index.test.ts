// The import computes the `members` column from the index rows its workers extract anyway
// (membersFromIndex); it must equal membersColumn, which evaluates the compartment's parameters itself.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { membersColumn, membersFromIndex } from '../../src/access/compartment.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { extractIndexValues } from '../../src/fhir/search/extract.js';

const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

/** Every official R4 example resource, Bundle entries included. */
function examples(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const add = (r: unknown): void => {
    if (typeof r !== 'object' || r === null) return;
    const res = r as Record<string, unknown> & { entry?: { resource?: unknown }[] };
    out.push(res);
    if (res.resourceType === 'Bundle') for (const e of res.entry ?? []) add(e.resource);
  };
  for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.'))) {
    add(JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')));
  }
  return out;
}

describe('membersFromIndex', () => {
  it('equals membersColumn for every official R4 example', () => {
    loadDefinitions();
    let inCompartment = 0;
    let compared = 0;
    for (const resource of examples()) {
      let rows;
      try {
        rows = extractIndexValues(resource);
      } catch {
        continue; // too many index rows: such a resource is refused before its members matter
      }
      const expected = membersColumn(resource);
      expect({ ref: `${String(resource.resourceType)}/${String(resource.id)}`, members: membersFromIndex(resource, rows) }).toEqual({
        ref: `${String(resource.resourceType)}/${String(resource.id)}`,
        members: expected,
      });
      compared++;
      if (expected) inCompartment++;
    }
    expect(compared).toBeGreaterThan(4000);
    expect(inCompartment).toBeGreaterThan(500);
  }, 300_000);

  it('finds members through every compartment parameter, not only the first, and ignores absolute and contained references', () => {
    loadDefinitions();
    const obs = {
      resourceType: 'Observation',
      id: 'o1',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Patient/b' },
      performer: [{ reference: 'Patient/a' }, { reference: 'https://elsewhere.example/Patient/c' }, { reference: '#p' }],
    };
    expect(membersFromIndex(obs, extractIndexValues(obs))).toEqual(['a', 'b']);
    expect(membersColumn(obs)).toEqual(['a', 'b']);
    const patient = { resourceType: 'Patient', id: 'p1', link: [{ other: { reference: 'Patient/p2' }, type: 'seealso' }] };
    expect(membersFromIndex(patient, extractIndexValues(patient))).toEqual(membersColumn(patient));
    const sub = { resourceType: 'Subscription', id: 's1', status: 'requested', reason: 'r', criteria: 'Observation?subject=Patient/a', channel: { type: 'rest-hook' } };
    expect(membersFromIndex(sub, extractIndexValues(sub))).toEqual(membersColumn(sub));
  });
});
