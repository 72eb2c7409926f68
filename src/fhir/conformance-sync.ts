// Concord's own profiles, extensions, code systems and value sets are ordinary resources on the server
// (readable, searchable, with history). At startup each is written through the normal update path,
// only when it differs from what is stored, so restarts do not add versions.
import type { Resource } from '@medplum/fhirtypes';
import { loadConformanceResources } from './profiles/index.js';
import type { ResourceService } from './resource-service.js';

const withoutMeta = (r: Record<string, unknown>): string => {
  const { meta: _meta, ...rest } = r;
  return JSON.stringify(rest);
};

export async function syncConformanceResources(service: ResourceService): Promise<number> {
  let written = 0;
  for (const resource of loadConformanceResources() as Resource[]) {
    const { resourceType, id } = resource;
    if (!id) continue;
    const stored = await service.read(resourceType, id).catch(() => undefined);
    if (stored?.content && withoutMeta(JSON.parse(stored.content) as Record<string, unknown>) === withoutMeta(resource as unknown as Record<string, unknown>)) continue;
    // As the server: clients cannot write these (owned-conformance.ts).
    await service.update(resourceType, id, resource, { asServer: true });
    written++;
  }
  return written;
}
