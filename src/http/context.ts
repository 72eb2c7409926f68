import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { BundleService } from '../fhir/bundle-service.js';
import type { CoordinationFormService } from '../fhir/coordination-form/service.js';
import type { ResourceService } from '../fhir/resource-service.js';
import type { SearchService } from '../fhir/search-service.js';
import type { SubscriptionOperations } from '../subscriptions/operations.js';
import type { WebsocketHub } from '../subscriptions/websocket-hub.js';

/** What the FHIR routes share: the interaction service and per-request base URL resolution. */
export interface RouteContext {
  service: ResourceService;
  search: SearchService;
  bundles: BundleService;
  maxBundleEntries: number;
  configuredBaseUrl?: string;
  capabilityStatement: (baseUrl: string) => CapabilityStatement;
  maxHistoryCount: number;
  /** $status / $events, when subscriptions are wired. */
  subscriptions?: SubscriptionOperations;
  /** $coordination-form on a Patient. */
  coordinationForms: CoordinationFormService;
  /** The websocket channel ($get-ws-binding-token, /fhir/ws), when subscriptions are wired. */
  websocket?: WebsocketHub;
}
