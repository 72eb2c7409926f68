// The schema-free checks of the base validation, in one linear walk of the whole document:
// - FHIR JSON forbids empty strings, empty arrays and empty objects (ele-1: every element has a value or
//   children other than id). Medplum reads '' and [] as absent and so accepts them silently, and lets {}
//   through wherever it is not inside an array; this pass catches all three anywhere in the document.
// - No array may hold more than MAX_ARRAY_ITEMS items (value-limits.ts): that bound is what keeps every later
//   walk short, so an array past it refuses the resource at once, with that one issue.
// Both used to be separate walks of the same document; they visit the same values in the same order, so one
// walk gives both answers. Path texts are built only for an issue found, from the trail of keys.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome.js';
import { MAX_ARRAY_ITEMS } from './value-limits.js';

export interface SchemaFreeIssues {
  /** The array past MAX_ARRAY_ITEMS, if any: then the resource is refused with this issue alone. */
  readonly limits: OperationOutcomeIssue[];
  /** Empty strings, arrays and objects, in document order. */
  readonly shape: OperationOutcomeIssue[];
}

export function checkJsonShape(resource: Record<string, unknown>, rootPath: string): SchemaFreeIssues {
  // Recursive (nesting is bounded by MAX_JSON_DEPTH).
  const trail: (string | number)[] = [];
  const shape: OperationOutcomeIssue[] = [];
  const here = (): string => rootPath + trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  let length = 0;
  // `reportShape` is false below an object already reported under ele-1: the shape check says nothing more
  // about its inside, but the array bound still applies there.
  const visit = (v: unknown, reportShape: boolean): boolean => {
    if (Array.isArray(v)) {
      if (v.length > MAX_ARRAY_ITEMS) {
        length = v.length;
        return false;
      }
      if (reportShape && v.length === 0) {
        shape.push(issue('structure', 'Empty arrays are not allowed in FHIR JSON; omit the element instead', { expression: [here()] }));
      }
      for (let i = 0; i < v.length; i++) {
        trail.push(i);
        if (!visit(v[i], reportShape)) return false;
        trail.pop();
      }
    } else if (typeof v === 'object' && v !== null) {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      let inner = reportShape;
      // The resource itself (empty trail) and nested resources are not elements.
      if (reportShape && trail.length > 0 && (keys.length === 0 || (keys.length === 1 && keys[0] === 'id')) && typeof obj['resourceType'] !== 'string') {
        shape.push(issue('invariant', 'Constraint ele-1 not met: an element must have a value or children other than id', { expression: [here()] }));
        inner = false;
      }
      for (const key of keys) {
        trail.push(key);
        if (!visit(obj[key], inner)) return false;
        trail.pop();
      }
    } else if (reportShape && v === '') {
      shape.push(issue('structure', 'Empty strings are not allowed in FHIR JSON; omit the element instead', { expression: [here()] }));
    }
    return true;
  };
  if (visit(resource, true)) return { limits: [], shape };
  const limits = [issue('too-costly', `An element may repeat at most ${MAX_ARRAY_ITEMS} times; this one has ${length}`, { expression: [here()] })];
  return { limits, shape: [] };
}
