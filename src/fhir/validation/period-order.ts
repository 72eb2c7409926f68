// per-1 (Period): "If present, start SHALL have a lower value than end". Medplum's validator evaluates the
// constraints of an element's definition but not those of its datatype, so per-1 is never checked there.
//
// Values of different precision are compared the way FHIRPath does, where a comparison that the
// precisions leave undecided is not a failure: the period is refused only when every instant its end may
// denote is before every instant its start may denote (start 2026-06 with end 2026-06-15 is fine; end
// 2026-05-31 is not). A date or zone-less time next to a zoned dateTime may be in any zone (see
// certainlyBefore). Unreadable values are left to the format checks.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { certainlyBefore, parseFhirDateTime } from '../datetime.js';
import { issue } from '../outcome.js';
import { isJsonObject } from './resource-walker.js';
import type { SchemaProperty } from './schema-properties.js';

/** The schema walk's value hook for per-1. */
export function periodOrderValue(issues: OperationOutcomeIssue[], prop: SchemaProperty, value: unknown, path: string): void {
  if (prop.typeCode !== 'Period' || !isJsonObject(value)) return;
  const { start, end } = value;
  if (typeof start !== 'string' || typeof end !== 'string') return;
  const s = parseFhirDateTime(start);
  const e = parseFhirDateTime(end);
  if (s && e && certainlyBefore(e, s)) {
    issues.push(
      issue('invariant', `Constraint per-1 not met: If present, start SHALL have a lower value than end (end ${end} is before start ${start})`, {
        expression: [path],
      }),
    );
  }
}
