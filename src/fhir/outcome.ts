// OperationOutcome construction and the one error type the FHIR layer throws. The HTTP layer maps a
// FhirError to its status; anything else is a server fault and is answered without internals.
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueSeverity = OperationOutcomeIssue['severity'];
export type IssueCode = OperationOutcomeIssue['code'];

export function issue(
  code: IssueCode,
  diagnostics: string,
  options: { severity?: IssueSeverity; expression?: string[]; details?: OperationOutcomeIssue['details'] } = {},
): OperationOutcomeIssue {
  const out: OperationOutcomeIssue = { severity: options.severity ?? 'error', code, diagnostics };
  if (options.details) out.details = options.details;
  if (options.expression && options.expression.length > 0) out.expression = options.expression;
  return out;
}

export function outcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export function informational(diagnostics: string): OperationOutcome {
  return outcome([issue('informational', diagnostics, { severity: 'information' })]);
}

export function hasErrors(issues: OperationOutcomeIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

/** An error whose HTTP status and OperationOutcome are known: a client error or a precondition failure. */
export class FhirError extends Error {
  readonly status: number;
  readonly issues: OperationOutcomeIssue[];
  readonly headers: Record<string, string>;

  constructor(status: number, issues: OperationOutcomeIssue[] | OperationOutcomeIssue, headers: Record<string, string> = {}) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((i) => i.diagnostics ?? i.code).join('; '));
    this.name = 'FhirError';
    this.status = status;
    this.issues = list;
    this.headers = headers;
  }

  get outcome(): OperationOutcome {
    return outcome(this.issues);
  }
}

export const badRequest = (msg: string, expression?: string[]): FhirError =>
  new FhirError(400, issue('invalid', msg, { expression }));
export const notFound = (msg: string): FhirError => new FhirError(404, issue('not-found', msg));
export const gone = (msg: string): FhirError => new FhirError(410, issue('deleted', msg));
export const conflict = (msg: string): FhirError => new FhirError(409, issue('conflict', msg));
export const preconditionFailed = (msg: string): FhirError => new FhirError(412, issue('conflict', msg));
export const unprocessable = (issues: OperationOutcomeIssue[]): FhirError => new FhirError(422, issues);
export const notSupported = (status: number, msg: string): FhirError => new FhirError(status, issue('not-supported', msg));
