// The contract's own StructureDefinitions, CodeSystems and ValueSets (profiles/) are owned by the server
// and read-only: a client write of one of their ids, or of any resource claiming one of their canonical
// URLs, is refused, so the served copy never changes (loading HL7's examples had replaced
// CodeSystem/organization-role, program and service-category, and each restart wrote them back).
// Only the startup sync (conformance-sync.ts) writes them, as the server.
import type { Resource } from '@medplum/fhirtypes';
import { loadConformanceResources } from './profiles/index.js';

const OWNED_TYPES: ReadonlySet<string> = new Set(['StructureDefinition', 'CodeSystem', 'ValueSet']);

let byKey: Map<string, string> | undefined;
let byUrl: Map<string, string> | undefined;

function index(): { byKey: Map<string, string>; byUrl: Map<string, string> } {
  if (!byKey || !byUrl) {
    byKey = new Map();
    byUrl = new Map();
    for (const r of loadConformanceResources()) {
      const name = `${r.resourceType}/${r.id ?? ''} (${r.url})`;
      byKey.set(`${r.resourceType}/${r.id ?? ''}`, name);
      if (r.url) byUrl.set(r.url, name);
    }
  }
  return { byKey, byUrl };
}

/**
 * The owned resource a write of `type/id` (new state `resource`, absent for a delete) would change or
 * impersonate, named `CodeSystem/program (https://…)`; undefined when the write touches none.
 */
export function ownedConformanceResource(type: string, id: string, resource?: Resource): { owned: string; by: 'id' | 'url' } | undefined {
  const { byKey: keys, byUrl: urls } = index();
  const byId = OWNED_TYPES.has(type) ? keys.get(`${type}/${id}`) : undefined;
  if (byId) return { owned: byId, by: 'id' };
  const url = (resource as { url?: unknown } | undefined)?.url;
  // A canonical may carry a version (`url|1.0`): the URL part is what is claimed.
  const byUrl = typeof url === 'string' ? urls.get(url.split('|')[0] ?? url) : undefined;
  return byUrl ? { owned: byUrl, by: 'url' } : undefined;
}
