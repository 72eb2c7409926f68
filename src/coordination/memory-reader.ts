// In-memory CoordinationReader for unit tests and $validate-style dry runs over a fixed set of resources.
import type { Resource } from '@medplum/fhirtypes';
import { coordinationFacts, factMatches } from './facts.js';
import type { FactQuery } from './facts.js';
import { membersOf } from './members.js';
import type { CoordinationReader, MemberRecord } from './reader.js';
import { addToRecord, emptyRecord } from './reader.js';

export class MemoryReader implements CoordinationReader {
  private readonly store = new Map<string, Resource>();

  constructor(resources: readonly Resource[] = []) {
    for (const r of resources) this.put(r);
  }

  put(resource: Resource): this {
    if (!resource.id) throw new Error(`${resource.resourceType} needs an id`);
    this.store.set(`${resource.resourceType}/${resource.id}`, structuredClone(resource));
    return this;
  }

  remove(resourceType: string, id: string): this {
    this.store.delete(`${resourceType}/${id}`);
    return this;
  }

  read(resourceType: string, id: string): Promise<Resource | undefined> {
    const r = this.store.get(`${resourceType}/${id}`);
    return Promise.resolve(r ? structuredClone(r) : undefined);
  }

  withFacts(patientId: string, queries: readonly FactQuery[]): Promise<Resource[]> {
    const out: Resource[] = [];
    for (const r of this.store.values()) {
      if (!membersOf(r).includes(patientId)) continue;
      if (coordinationFacts(r).some((f) => queries.some((q) => factMatches(f, q)))) out.push(structuredClone(r));
    }
    return Promise.resolve(out);
  }

  memberRecord(patientId: string): Promise<MemberRecord> {
    const record = emptyRecord();
    for (const r of this.store.values()) {
      if (!membersOf(r).includes(patientId)) continue;
      addToRecord(record, structuredClone(r));
    }
    return Promise.resolve(record);
  }
}
