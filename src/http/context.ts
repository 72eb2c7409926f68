import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { ResourceService } from '../fhir/resource-service.js';

/** What the FHIR routes share: the interaction service and per-request base URL resolution. */
export interface RouteContext {
  service: ResourceService;
  configuredBaseUrl?: string;
  capabilityStatement: (baseUrl: string) => CapabilityStatement;
  maxHistoryCount: number;
}
