// Membership in Concord ValueSets. Concord's ValueSets only include whole Concord code systems or listed
// concepts, so they expand locally; a ValueSet outside Concord is not checked here (base validation and
// the terminology layer own those).
import type { Coding } from '@medplum/fhirtypes';
import { findCodeSystem, findValueSet } from './conformance.js';

const expansions = new Map<string, Set<string> | undefined>();

const key = (system: string | undefined, code: string | undefined): string => `${system ?? ''}|${code ?? ''}`;

/** `system|code` of every code in the ValueSet, or undefined when it cannot be expanded locally. */
export function expandValueSet(url: string): Set<string> | undefined {
  if (expansions.has(url)) return expansions.get(url);
  const vs = findValueSet(url);
  let codes: Set<string> | undefined;
  if (vs?.compose && !vs.compose.exclude) {
    codes = new Set();
    for (const include of vs.compose.include) {
      const cs = include.system ? findCodeSystem(include.system) : undefined;
      if (!include.system || include.valueSet || include.filter) {
        codes = undefined;
        break;
      }
      if (include.concept) {
        for (const c of include.concept) codes.add(key(include.system, c.code));
      } else if (cs?.content === 'complete') {
        for (const c of cs.concept ?? []) codes.add(key(include.system, c.code));
      } else {
        codes = undefined;
        break;
      }
    }
  }
  expansions.set(url, codes);
  return codes;
}

export function codingInValueSet(codes: Set<string>, coding: Coding): boolean {
  return codes.has(key(coding.system, coding.code));
}

/** A bare `code` value is in the ValueSet when some system of the ValueSet has that code. */
export function codeInValueSet(codes: Set<string>, code: string): boolean {
  for (const k of codes) if (k.endsWith('|' + code)) return true;
  return false;
}
