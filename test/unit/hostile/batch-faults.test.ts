// A batch entry that fails with an unexpected error must not turn the whole batch into a 500: the
// entries before and after it were committed in their own transactions and are reported.
import { describe, expect, it } from 'vitest';
import { BundleService } from '../../../src/fhir/bundle-service.js';
import type { ResourceService } from '../../../src/fhir/resource-service.js';
import { StoreUnavailableError } from '../../../src/fhir/store-unavailable.js';

const stored = (id: string) => ({ status: 201 as const, version: { resourceType: 'Patient', id, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z', deleted: false, content: `{"resourceType":"Patient","id":"${id}"}` } });

describe('batch entries are independent', () => {
  it('an unexpected error in one entry answers that entry 500 with an OperationOutcome; the others keep their results', async () => {
    let n = 0;
    const service = {
      create: (_type: string, body: { name?: unknown }) => {
        n++;
        if (body.name === 'boom') return Promise.reject(new TypeError('unexpected'));
        return Promise.resolve(stored(`p${n}`));
      },
    } as unknown as ResourceService;
    const faults: number[] = [];
    const bundles = new BundleService(service, () => Promise.reject(new Error('no GET here')));
    const text = await bundles.process(
      {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Patient', name: 'boom' }, request: { method: 'POST', url: 'Patient' } },
          { request: { method: 'GET', url: 'Patient/x' } },
          { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        ],
      },
      { maxEntries: 10, returnPreference: 'minimal', baseUrl: 'http://x/fhir', onEntryFault: (_err, i) => faults.push(i) },
    );
    const body = JSON.parse(text) as { type: string; entry: { response: { status: string; outcome?: { issue: { code: string; diagnostics: string }[] } } }[] };
    expect(body.type).toBe('batch-response');
    expect(body.entry.map((e) => e.response.status)).toEqual(['201 Created', '500 Internal Server Error', '500 Internal Server Error', '201 Created']);
    expect(body.entry[1]!.response.outcome!.issue[0]).toMatchObject({ code: 'exception' });
    expect(body.entry[1]!.response.outcome!.issue[0]!.diagnostics).not.toContain('unexpected');
    expect(faults).toEqual([1, 2]);
  });

  it('an entry the database could not serve answers 503 in its entry (not 500); a client gone away stops the batch', async () => {
    let n = 0;
    const service = {
      create: (_type: string, body: { name?: unknown }) => {
        n++;
        if (body.name === 'busy') return Promise.reject(new StoreUnavailableError('busy', 'no connection'));
        if (body.name === 'gone') return Promise.reject(new StoreUnavailableError('cancelled', 'client went away'));
        return Promise.resolve(stored(`p${n}`));
      },
    } as unknown as ResourceService;
    const faults: number[] = [];
    const bundles = new BundleService(service, () => Promise.reject(new Error('no GET here')));
    const batch = (second: string) =>
      bundles.process(
        {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient', name: second }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          ],
        },
        { maxEntries: 10, returnPreference: 'minimal', baseUrl: 'http://x/fhir', onEntryFault: (_err, i) => faults.push(i) },
      );
    const body = JSON.parse(await batch('busy')) as { entry: { response: { status: string; outcome?: { issue: { code: string }[] } } }[] };
    expect(body.entry.map((e) => e.response.status)).toEqual(['201 Created', '503 Service Unavailable', '201 Created']);
    expect(body.entry[1]!.response.outcome!.issue[0]).toMatchObject({ code: 'transient' });
    expect(faults).toEqual([]);
    await expect(batch('gone')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(n).toBe(5);
  });
});
