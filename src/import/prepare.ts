// The per-line work of an import that needs no database: parse, the same checks a PUT of the resource
// runs before its transaction (ResourceService.update + validated), and index extraction. Pure, so it
// runs in worker threads too (prepare-worker.ts).
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { membersFromIndex } from '../access/compartment.js';
import { isValidId } from '../fhir/ids.js';
import { assertJsonHasNoNul } from '../fhir/hostile-input.js';
import { plainNumbers, type NumberText } from '../fhir/number-text.js';
import { FhirError, hasErrors, issue, outcome } from '../fhir/outcome.js';
import { relativizeReferences } from '../fhir/references.js';
import { ownedIssue } from '../fhir/resource-service.js';
import { extractIndexValues } from '../fhir/search/extract.js';
import { indexColumnsOf, type IndexColumns } from '../fhir/search/index-columns.js';
import { validateForWrite } from '../fhir/validate-write.js';
import { parseJsonBody } from '../http/json-body.js';

export interface PrepareOptions {
  /** The file's resource type: every line must be one. */
  resourceType: string;
  maxJsonDepth: number;
  /** Base URLs that name this server: absolute references under them are stored as Type/id. */
  baseUrls: readonly string[];
  /** Index rows one parameter may produce (MAX_INDEX_ROWS). */
  maxIndexRows?: number;
}

export type Prepared =
  | { ok: true; line: number; end: number; resourceType: string; id: string; resource: Resource; texts: NumberText[]; index: IndexColumns; members: string[] | null }
  | { ok: false; line: number; end: number; resourceType?: string; id?: string; outcome: OperationOutcome };

export function prepareLine(bytes: Buffer, line: number, end: number, options: PrepareOptions): Prepared {
  const type = options.resourceType;
  let body: unknown;
  let declared: { resourceType?: unknown; id?: unknown } = {};
  try {
    body = parseJsonBody(bytes, options.maxJsonDepth);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('The line is not a JSON object (a FHIR resource)');
    declared = body;
    if (declared.resourceType !== type) {
      throw bad(`resourceType '${String(declared.resourceType)}' in a file of ${type} resources (one resource type per file)`, ['resourceType']);
    }
    if (typeof declared.id !== 'string' || !isValidId(declared.id)) {
      throw bad('An imported resource must carry a valid id (it is written as an update-as-create of that id)', [`${type}.id`]);
    }
    const id = declared.id;
    // A parsed string can hold a NUL only from a `\u0000` escape (JSON.parse refuses a raw one), so a line
    // without that text needs no walk of its values.
    if (bytes.includes(NUL_ESCAPE)) assertJsonHasNoNul(body, 'The resource');
    const { plain, texts } = plainNumbers(body as Resource, type);
    const resource = relativizeReferences(plain, options.baseUrls);
    const issues = validateForWrite(resource, type);
    if (hasErrors(issues)) throw new FhirError(422, issues);
    const owned = ownedIssue(type, id, resource);
    if (owned) throw new FhirError(422, owned);
    // Both carry server-side state a bulk load would skip (a Subscription's owner, secret and delivery
    // state; the audit trail's immutability): they are written through the API only.
    if (type === 'Subscription' || type === 'AuditEvent') {
      throw new FhirError(422, [issue('not-supported', `${type} resources are not imported; create them through the API`, { expression: [type] })]);
    }
    // The index and members of the stamped resource equal this one's: meta.versionId/lastUpdated feed no
    // stored row, and the id is the line's. The members are read off the index's reference rows (the
    // compartment parameters were just evaluated for it).
    // The rows travel to the main thread as column fragments (index-columns.ts): cheaper to clone and
    // appended to the batch's statement as they are.
    const rows = extractIndexValues(resource, options.maxIndexRows);
    return { ok: true, line, end, resourceType: type, id, resource, texts, index: indexColumnsOf(rows), members: membersFromIndex(resource, rows) };
  } catch (err) {
    const issues = err instanceof FhirError ? err.issues : [issue('exception', 'The line could not be processed')];
    return {
      ok: false,
      line,
      end,
      ...(typeof declared.resourceType === 'string' ? { resourceType: declared.resourceType } : {}),
      ...(typeof declared.id === 'string' ? { id: declared.id } : {}),
      outcome: outcome(issues),
    };
  }
}

const NUL_ESCAPE = Buffer.from('\\u0000');

const bad = (diagnostics: string, expression?: string[]): FhirError => new FhirError(400, issue('invalid', diagnostics, expression ? { expression } : {}));
