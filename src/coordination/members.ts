// Which member (Patient) a coordination resource belongs to. The storage layer locks each of these
// before the engine runs, which is what makes the rules hold under concurrency.
import type { Resource } from '@medplum/fhirtypes';
import { refOfType } from './refs.js';

/** Patient ids a write of this resource touches: CareTeam/CarePlan/ServiceRequest.subject, Consent/EpisodeOfCare.patient. */
export function membersOf(resource: Resource | undefined): string[] {
  if (!resource) return [];
  let ref;
  switch (resource.resourceType) {
    case 'CareTeam':
    case 'CarePlan':
    case 'ServiceRequest':
      ref = resource.subject;
      break;
    case 'Consent':
    case 'EpisodeOfCare':
      ref = resource.patient;
      break;
    default:
      return [];
  }
  const id = refOfType(ref, 'Patient');
  return id === undefined ? [] : [id];
}
