// Program enrolment: an active EpisodeOfCare whose type carries a `program` coding.
import type { EpisodeOfCare } from '@medplum/fhirtypes';
import { CodeSystems } from './codes.js';
import type { ProgramCode } from './codes.js';
import type { Range } from './period.js';
import { coveredByUnion, intersect, periodRange } from './period.js';
import { resourceKey } from './refs.js';
import type { MemberRecord } from './reader.js';
import { isActiveEpisode } from './status.js';

export interface Enrolment {
  readonly episode: EpisodeOfCare;
  readonly ref: string;
  readonly program: ProgramCode;
  readonly range: Range;
  /** `EpisodeOfCare.type[i]` of the program coding. */
  readonly path: string;
}

export function enrolments(record: MemberRecord, ...programs: ProgramCode[]): Enrolment[] {
  const out: Enrolment[] = [];
  for (const episode of record.episodes) {
    if (!isActiveEpisode(episode)) continue;
    episode.type?.forEach((cc, i) => {
      for (const c of cc.coding ?? []) {
        if (c.system === CodeSystems.program && c.code && programs.includes(c.code as ProgramCode)) {
          out.push({
            episode,
            ref: resourceKey(episode),
            program: c.code as ProgramCode,
            range: periodRange(episode.period),
            path: `EpisodeOfCare.type[${i}]`,
          });
        }
      }
    });
  }
  return out;
}

/** Ranges where the member is enrolled in one of `a` and, at the same time, one of `b`. */
export function jointEnrolment(left: readonly Enrolment[], right: readonly Enrolment[]): Array<{ range: Range; parts: [Enrolment, Enrolment] }> {
  const out: Array<{ range: Range; parts: [Enrolment, Enrolment] }> = [];
  for (const a of left) {
    for (const b of right) {
      const range = intersect(a.range, b.range);
      if (range) out.push({ range, parts: [a, b] });
    }
  }
  return out;
}

/**
 * The contract's "enrolled in" a program over a period: active EpisodeOfCare resources of that program
 * together cover the whole period (coverage, not mere overlap; an open-ended period needs an ongoing
 * enrolment). With several programs, one of them must cover it on its own.
 */
export function enrolledThroughout(list: readonly Enrolment[], range: Range, ...programs: ProgramCode[]): boolean {
  return programs.some((program) => coveredByUnion(range, list.filter((e) => e.program === program).map((e) => e.range)));
}
