// AuditEvent search parameters: what each becomes, and refusals for what the store cannot answer.
import { describe, expect, it } from 'vitest';
import { parseAuditQuery } from '../../src/audit/search.js';
import { outcomeOfStatus } from '../../src/audit/balp.js';

const parse = (q: string) => parseAuditQuery(new URLSearchParams(q));

describe('parseAuditQuery', () => {
  it('reads references, tokens and dates', () => {
    expect(parse('patient=p1&entity=http://concord.test/fhir/CareTeam/t1/_history/2&agent=Organization/o1&agent-identifier=urn:concord:client-id|c1&subtype=http://hl7.org/fhir/restful-interaction|read&outcome=4')).toMatchObject({
      patient: 'Patient/p1',
      entity: 'CareTeam/t1',
      organization: 'Organization/o1',
      clientId: 'c1',
      subtype: 'read',
      outcome: '4',
      newestFirst: true,
      count: 20,
    });
    const day = parse('date=2026-06-01');
    expect([day.from, day.to]).toEqual([Date.parse('2026-06-01T00:00:00Z'), Date.parse('2026-06-02T00:00:00Z')]);
    const range = parse('date=gt2026-06-01&date=le2026-06-03');
    expect([range.from, range.to]).toEqual([Date.parse('2026-06-02T00:00:00Z'), Date.parse('2026-06-04T00:00:00Z')]);
    expect(parse('_sort=date&_count=5000').newestFirst).toBe(false);
    expect(parse('_count=5000').count).toBe(1000);
  });

  it.each(['date=yesterday', '_sort=outcome', '_count=-1', 'entity=nothing', 'name=x', '_offset=x'])('refuses %s with 400', (q) => {
    expect(() => parse(q)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('outcome codes', () => {
  it('0 below 400, 4 for client errors, 8 for server errors', () => {
    expect([200, 304, 401, 404, 422, 500, 503].map(outcomeOfStatus)).toEqual(['0', '0', '4', '4', '4', '8', '8']);
  });
});
