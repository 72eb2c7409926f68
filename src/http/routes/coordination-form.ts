// GET/POST /Patient/{id}/$coordination-form: the member's Care Planning and Coordination form, as a FHIR
// document (JSON, the default) or as a printable HTML page (Accept: text/html or _format=html).
// Who may call it and what it reads: access.ts; what the AuditEvent names: noteDisclosed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formDocument } from '../../fhir/coordination-form/document.js';
import { FORM_PAGE_CSP, formPage } from '../../fhir/coordination-form/html.js';
import { formParameters, type CoordinationFormService } from '../../fhir/coordination-form/service.js';
import { noteDisclosed } from '../audit.js';
import { assertJsonAcceptable, header, searchParams } from '../negotiation.js';
import { baseUrlOf, sendJson } from '../responses.js';
import { asViewer } from '../viewer.js';

export const COORDINATION_FORM_ROUTE = '/fhir/Patient/:id/$coordination-form';

type Instance = { Params: { id: string } };

const HTML = /^(html|text\/html|application\/xhtml\+xml)$/i;

/** html when asked for by _format, or by an Accept whose most preferred type we produce is HTML. */
function wantsHtml(request: FastifyRequest): boolean {
  const format = searchParams(request).get('_format');
  if (format !== null) {
    if (HTML.test(format)) return true;
    assertJsonAcceptable(request);
    return false;
  }
  const ranked = (header(request, 'accept') ?? '')
    .split(',')
    .map((part, order) => {
      const [type = '', ...params] = part.split(';').map((t) => t.trim());
      const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
      return { type, q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((m) => m.q > 0 && m.type !== '')
    .sort((a, b) => b.q - a.q || a.order - b.order);
  for (const m of ranked) {
    if (HTML.test(m.type)) return true;
    if (/^application\/(fhir\+)?json$|^\*\/\*$|^application\/\*$/i.test(m.type)) return false;
  }
  assertJsonAcceptable(request);
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
