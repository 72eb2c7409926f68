// Runs @medplum/core's structural validator (unknown elements, JSON types, cardinality, primitive formats,
// FHIRPath invariants) and turns its outcome into our issues. It signals errors by throwing an
// OperationOutcomeError; its warnings are dropped because the rules we care about from them are enforced as
// errors in structure-checks.ts.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError, validateResource as medplumValidate } from '@medplum/core';
import { issue } from '../outcome.js';

export function medplumIssues(resource: Resource): OperationOutcomeIssue[] {
  try {
    withoutStringEntries(() => medplumValidate(resource));
    return [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal').map(convert);
    }
    // Medplum throws plain Errors on some malformed input (e.g. `"_active": 5`); that is still the client's data.
    const message = err instanceof Error ? err.message : String(err);
    return [issue('structure', `Resource structure could not be validated: ${message}`)];
  }
}

function convert(i: OperationOutcomeIssue): OperationOutcomeIssue {
  let diagnostics = i.details?.text ?? i.diagnostics ?? 'Invalid resource';
  // For invariants medplum puts {"fhirpath": "..."} in diagnostics; keep the expression readable.
  const fhirpath = i.code === 'invariant' ? invariantExpression(i.diagnostics) : undefined;
  if (fhirpath) diagnostics += ` (${fhirpath})`;
  return issue(i.code, diagnostics, { severity: i.severity, expression: i.expression });
}

function invariantExpression(diagnostics: string | undefined): string | undefined {
  if (!diagnostics?.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(diagnostics) as { fhirpath?: unknown };
    return typeof parsed.fhirpath === 'string' ? parsed.fhirpath : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Medplum's null check (checkForNull in @medplum/core 4.5) calls Object.entries() on every truthy array item,
 * strings included: a 4 MB string in `name[0].given` became four million [index, char] pairs (~0.75 GB and
 * 7-16 s of blocked event loop) only to find no nulls in them. Object.entries of a string is never what the
 * validator wants, so for the duration of this synchronous call it answers [] for strings. Nothing else runs
 * meanwhile (single thread, no await), and Node's internals use their own captured copy of Object.entries.
 */
export function withoutStringEntries<T>(fn: () => T): T {
  const entries = Object.entries;
  Object.entries = ((o: object) => (typeof o === 'string' ? [] : entries(o))) as typeof Object.entries;
  try {
    return fn();
  } finally {
    Object.entries = entries;
  }
}
