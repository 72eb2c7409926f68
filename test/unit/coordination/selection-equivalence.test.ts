// Rule.select must be exact: judging a write on the stored resources the rules select (by coordination
// facts) plus the written ones gives the same findings as judging it on the member's whole record. This
// test generates many random member records and batches (generate.ts) and compares the engine's
// findings both ways.
import { describe, expect, it } from 'vitest';
import { checkWritesDetailed } from '../../../src/coordination/engine.js';
import type { CoordinationReader } from '../../../src/coordination/reader.js';
import { RULES } from '../../../src/coordination/rules/index.js';
import type { Rule } from '../../../src/coordination/rules/types.js';
import { careTeam, create, episode, ORGS, PEOPLE, ROLES, world } from './builders.js';
import { scenario } from './generate.js';

/** The same store without withFacts: the engine then reads whole parts, as it did before selection. */
function wholeRecordReader(reader: CoordinationReader): CoordinationReader {
  return { memberRecord: (p) => reader.memberRecord(p), read: (t, id) => reader.read(t, id) };
}

describe('record selection by coordination facts (Rule.select)', () => {
  it('finds exactly what the whole record finds, over 4200 generated records and batches', async () => {
    let withFindings = 0;
    let narrowed = 0;
    for (let seed = 1; seed <= 4200; seed++) {
      const { stored, writes } = scenario(seed);
      const reader = world(...stored);
      let selectedCount = 0;
      const counting: CoordinationReader = {
        memberRecord: (p) => reader.memberRecord(p),
        read: (t, id) => reader.read(t, id),
        withFacts: async (p, q) => {
          const found = await reader.withFacts(p, q);
          selectedCount += found.length;
          return found;
        },
      };
      const whole = await checkWritesDetailed(writes, wholeRecordReader(reader));
      const selected = await checkWritesDetailed(writes, counting);
      expect(selected, `seed ${seed}`).toEqual(whole);
      // Each rule's selection must be exact on its own too (others' wider selections must not hide a gap).
      const alone = { rules: [RULES[seed % RULES.length] as Rule] };
      expect(await checkWritesDetailed(writes, reader, alone), `seed ${seed}, ${alone.rules[0]?.id} alone`).toEqual(
        await checkWritesDetailed(writes, wholeRecordReader(reader), alone),
      );
      if (whole.length > 0) withFindings++;
      if (selectedCount < stored.length) narrowed++;
    }
    // The generator must exercise both outcomes, and the selection must actually leave resources out.
    expect(withFindings).toBeGreaterThan(600);
    expect(4200 - withFindings).toBeGreaterThan(600);
    expect(narrowed).toBeGreaterThan(3000);
  }, 300_000);

  it('a stored waiver case manager is judged on all its concurrent leads when a lead is written (transitive selection)', async () => {
    // h (UCare) holds EW case management all year; a Blue Plus lead already served in Q1 (a known
    // problem); a second Blue Plus lead for Q3 is written. The Q1 lead overlaps neither the new lead
    // nor its team, so only the second selection round (leads during h) loads it.
    const year = { start: '2026-01-01', end: '2026-12-31' };
    const q1 = { start: '2026-01-01', end: '2026-03-31' };
    const q3 = { start: '2026-07-01', end: '2026-09-30' };
    const holder = careTeam('holder', [{ member: ROLES.mnRnAtUcare, onBehalfOf: ORGS.mnMco, scopes: ['waiver-case-management'], period: year }], { period: year });
    const firstLead = careTeam('first-lead', [{ member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.mnMco2, lead: true, period: q1 }], { period: q1 });
    const newLead = careTeam('new-lead', [{ member: PEOPLE.mnSwNoAssessor, onBehalfOf: ORGS.mnMco2, lead: true, period: q3 }], { period: q3 });
    const stored = [episode('msho', 'mn-msho', ORGS.mnMco, year), episode('ew', 'mn-elderly-waiver', ORGS.mnMco, year), holder, firstLead];
    const reader = world(...stored);
    const alone = { rules: [RULES.find((r) => r.id === 'waiver-case-manager-matches-waiver') as Rule] };
    const whole = await checkWritesDetailed([create(newLead)], wholeRecordReader(reader), alone);
    expect(whole).toHaveLength(1);
    expect(whole[0]?.involves).toContain('CareTeam/first-lead');
    expect(await checkWritesDetailed([create(newLead)], reader, alone)).toEqual(whole);
  });
});
