// Bundle construction for history (and later search) responses. Entries carry the stored JSON text
// unparsed: the Bundle is serialised around them so large pages are not parsed and re-serialised.
import { randomUUID } from 'node:crypto';
import type { HistoryPage, StoredVersion, WriteMethod } from './repository.js';

export interface BundleLink {
  relation: string;
  url: string;
}

/** Serialises a Bundle whose entries' `resource` values are already JSON text. */
export function serializeBundle(head: Record<string, unknown>, entries: { fields: Record<string, unknown>; resourceJson?: string }[]): string {
  const headJson = JSON.stringify({ resourceType: 'Bundle', ...head });
  const parts = entries.map(({ fields, resourceJson }) => {
    const base = JSON.stringify(fields);
    if (resourceJson === undefined) return base;
    return base === '{}' ? `{"resource":${resourceJson}}` : `${base.slice(0, -1)},"resource":${resourceJson}}`;
  });
  return `${headJson.slice(0, -1)},"entry":[${parts.join(',')}]}`;
}

function requestOf(v: StoredVersion, method: WriteMethod): { method: string; url: string } {
  return { method: method === 'PATCH' ? 'PATCH' : method, url: method === 'POST' ? v.resourceType : `${v.resourceType}/${v.id}` };
}

export function historyBundle(page: HistoryPage, baseUrl: string, links: BundleLink[]): string {
  return serializeBundle(
    { id: randomUUID(), type: 'history', ...(page.total === undefined ? {} : { total: page.total }), link: links },
    page.versions.map((v) => ({
      fields: {
        fullUrl: `${baseUrl}/${v.resourceType}/${v.id}`,
        request: requestOf(v, v.method),
        response: {
          status: v.deleted ? '204 No Content' : v.versionId === 1 ? '201 Created' : '200 OK',
          etag: `W/"${v.versionId}"`,
          lastModified: v.lastUpdated,
        },
      },
      ...(v.content === undefined ? {} : { resourceJson: v.content }),
    })),
  );
}
