// GET entries of a Bundle: read, vread and search, answered inside the Bundle's transaction when there
// is one (so a transaction's GETs see its own writes, and PGlite's single connection is not re-entered).
import type { GetHandler } from './bundle-service.js';
import { badRequest } from './outcome.js';
import type { ResourceService } from './resource-service.js';
import type { SearchService } from './search-service.js';

export function bundleGetHandler(service: ResourceService, search: SearchService): GetHandler {
  return async (path, query, session, baseUrl, viewer) => {
    const [type = '', id, history, vid, ...rest] = path.split('/');
    if (rest.length || (history !== undefined && history !== '_history')) throw badRequest(`GET ${path} is not supported in a Bundle`);
    const inSession = { ...(session ? { session } : {}), ...(viewer ? { viewer } : {}) };
    if (id === undefined) {
      const body = await search.search(type, query, { strict: false, baseUrl, ...(session ? { tx: session.tx } : {}), ...(viewer ? { viewer } : {}) });
      return { status: 200, body };
    }
    const version = vid === undefined ? await service.read(type, id, inSession) : await service.vread(type, id, vid, inSession);
    return { status: 200, body: version.content ?? '{}', version };
  };
}
