// The version an event names is the one the write's transaction wrote: taken from the session when the
// transaction wrote the focus (no read of the resource row per write, docs/adr/0023), read in the
// transaction otherwise. The last version written wins when a transaction wrote the focus twice.
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { StoredVersion, WriteTx } from '../../src/fhir/repository.js';
import { WriteSession } from '../../src/fhir/resource-service.js';
import { EventRecorder } from '../../src/subscriptions/event-recorder.js';
import type { Candidate, NotificationInput, SubscriptionEventStore } from '../../src/subscriptions/store.js';

const episode = (id: string): EpisodeOfCare => ({ resourceType: 'EpisodeOfCare', id, status: 'active', patient: { reference: 'Patient/m1' } });
const stored = (id: string, versionId: number): StoredVersion => ({ resourceType: 'EpisodeOfCare', id, versionId, lastUpdated: '2026-12-03T00:00:00.000Z', deleted: false });

function recorder(): { recorder: EventRecorder; appended: NotificationInput[] } {
  const appended: NotificationInput[] = [];
  const candidate: Candidate = { id: 'sub1', topic: 'enrolment', criteriaType: 'EpisodeOfCare', criteria: '', filters: [] };
  const store = {
    candidates: () => Promise.resolve([candidate]),
    append: (_tx: WriteTx, n: readonly NotificationInput[]) => {
      appended.push(...n);
      return Promise.resolve();
    },
  } as unknown as SubscriptionEventStore;
  const r = new EventRecorder({ store, checkEndpoint: () => Promise.resolve(), bases: [], read: () => Promise.resolve(undefined) });
  return { recorder: r, appended };
}

function session(reads: string[], current: Record<string, number>): WriteSession {
  const tx = {
    read: (type: string, id: string) => {
      reads.push(`${type}/${id}`);
      return Promise.resolve(current[`${type}/${id}`] !== undefined ? stored(id, current[`${type}/${id}`]!) : undefined);
    },
  } as unknown as WriteTx;
  return new WriteSession(tx);
}

describe('event focus version', () => {
  it('a focus the transaction wrote: its last written version, without reading the resource', async () => {
    const reads: string[] = [];
    const s = session(reads, { 'EpisodeOfCare/e1': 9 });
    s.writes.push({ operation: 'update', resourceType: 'EpisodeOfCare', id: 'e1', resource: episode('e1'), previous: episode('e1') });
    s.written.push({ version: stored('e1', 4), method: 'PUT' }, { version: stored('e1', 5), method: 'PUT' });
    const { recorder: r, appended } = recorder();
    await r.beforeCommit(s);
    expect(appended.map((n) => `${n.subscriptionId} ${n.focusType}/${n.focusId}/${n.focusVersion}`)).toEqual(['sub1 EpisodeOfCare/e1/5']);
    expect(reads.filter((k) => k.startsWith('EpisodeOfCare/'))).toEqual([]);
  });

  it('a focus the session has no version of: read in the transaction', async () => {
    const reads: string[] = [];
    const s = session(reads, { 'EpisodeOfCare/e2': 3 });
    s.writes.push({ operation: 'update', resourceType: 'EpisodeOfCare', id: 'e2', resource: episode('e2'), previous: episode('e2') });
    const { recorder: r, appended } = recorder();
    await r.beforeCommit(s);
    expect(appended.map((n) => `${n.focusId}/${n.focusVersion}`)).toEqual(['e2/3']);
    expect(reads).toContain('EpisodeOfCare/e2');
  });
});
