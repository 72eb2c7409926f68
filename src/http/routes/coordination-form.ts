// GET/POST /Patient/{id}/$coordination-form: the member's Care Planning and Coordination form, as a FHIR
// document (JSON, the default) or as a printable HTML page (Accept: text/html or _format=html).
// Who may call it and what it reads: access.ts; what the AuditEvent names: noteDisclosed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formDocument } from '../../fhir/coordination-form/document.js';
import { FORM_PAGE_CSP, formPage } from '../../fhir/coordination-form/html.js';
import { formParameters, type CoordinationFormService } from '../../fhir/coordination-form/service.js';
import { noteDisclosed } from '../audit.js';
import { negotiate, searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { asViewer } from '../viewer.js';

export const COORDINATION_FORM_ROUTE = '/fhir/Patient/:id/$coordination-form';

type Instance = { Params: { id: string } };

/** The FHIR document (the default) or the printable page: R4's `_format=html` names the latter. */
const FORM_TYPES = ['application/fhir+json', 'application/json', 'text/html', 'application/xhtml+xml'];

/** html when asked for by _format, or by an Accept that prefers HTML to JSON (a browser's). */
function wantsHtml(request: FastifyRequest): boolean {
  const chosen = negotiate(request, FORM_TYPES);
  if (/html/.test(chosen)) return true;
  request.fhirJsonType = chosen;
  return false;
}

export function coordinationFormRoutes(app: FastifyInstance, forms: CoordinationFormService, configuredBaseUrl: string | undefined): void {
  const handle = async (request: FastifyRequest<Instance>, reply: FastifyReply) => {
    const html = wantsHtml(request);
    const parameters = formParameters(searchParams(request), request.body);
    const baseUrl = baseUrlOf(request, configuredBaseUrl);
    const now = new Date();
    const form = await forms.form(request.params.id, parameters, { ...asViewer(request), baseUrl, now });
    noteDisclosed(
      request,
      form.sources.map((r) => ({ reference: `${r.resourceType}/${r.id ?? ''}`, ...(r.meta?.versionId ? { versionId: Number(r.meta.versionId) } : {}) })),
    );
    const context = { baseUrl, generatedAt: now.toISOString(), ...(parameters.date ? { date: parameters.date } : {}) };
    if (!html) return sendJson(reply, 200, formDocument(form, context));
    return reply
      .code(200)
      .header('Content-Security-Policy', FORM_PAGE_CSP)
      .header('X-Frame-Options', 'DENY')
      .header('Referrer-Policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(formPage(form, context));
  };
  app.get<Instance>('/Patient/:id/$coordination-form', handle);
  app.post<Instance>('/Patient/:id/$coordination-form', handle);
}
