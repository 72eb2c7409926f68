// GET /metadata: the CapabilityStatement is generated from what this server really does: the resource
// types come from the R4 definitions, search parameters from the search layer, profiles from the
// conformance resources loaded at startup.
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import { getResourceTypes } from './definitions.js';

export interface CapabilityInputs {
  baseUrl: string;
  version: string;
  searchParams: (resourceType: string) => CapabilityStatementRestResourceSearchParam[];
  supportedProfiles: (resourceType: string) => string[];
  /** Type-level operations, e.g. $validate, by name -> OperationDefinition canonical. */
  operations: { name: string; definition: string }[];
  /** Whether search (GET [type]) is served; until then search interactions are not advertised. */
  searchSupported: boolean;
  transactionsSupported: boolean;
  /** SMART Backend Services token endpoint, when authentication is on. */
  tokenUrl?: string;
  /** System-level operations (e.g. the Bulk Data $import), by name -> OperationDefinition canonical. */
  systemOperations?: { name: string; definition: string; documentation?: string }[];
  /** Instance-level operations of one type (e.g. Patient $coordination-form), added to its operations. */
  instanceOperations?: Readonly<Record<string, readonly { name: string; definition: string; documentation?: string }[]>>;
  /** On the Subscription resource: the topics it serves (extension url -> canonical) and its operations. */
  subscriptions?: { topicExtension: string; topics: string[]; operations: { name: string; definition: string }[] };
}

const SMART_OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
const RESTFUL_SECURITY_SERVICE = 'http://terminology.hl7.org/CodeSystem/restful-security-service';

function security(tokenUrl: string): NonNullable<NonNullable<CapabilityStatement['rest']>[number]['security']> {
  return {
    extension: [{ url: SMART_OAUTH_URIS, extension: [{ url: 'token', valueUri: tokenUrl }] }],
    service: [{ coding: [{ system: RESTFUL_SECURITY_SERVICE, code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }], text: 'SMART Backend Services' }],
    description: 'OAuth 2.0 client credentials (SMART Backend Services): a signed JWT assertion (RS384 or ES384) or, where allowed, a client secret at the token endpoint; see .well-known/smart-configuration.',
  };
}

export function buildCapabilityStatement(inputs: CapabilityInputs, now = new Date()): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = getResourceTypes().map((type) => {
    const interactions: CapabilityStatementRestResource['interaction'] = [
      { code: 'read' },
      { code: 'vread' },
      { code: 'update' },
      { code: 'patch' },
      { code: 'delete' },
      { code: 'history-instance' },
      { code: 'history-type' },
      { code: 'create' },
      ...(inputs.searchSupported ? [{ code: 'search-type' as const }] : []),
    ];
    const profiles = inputs.supportedProfiles(type);
    const searchParam = inputs.searchParams(type);
    const subs = type === 'Subscription' ? inputs.subscriptions : undefined;
    return {
      ...(subs ? { extension: subs.topics.map((valueCanonical) => ({ url: subs.topicExtension, valueCanonical })) } : {}),
      type: type as CapabilityStatementRestResource['type'],
      ...(profiles.length ? { supportedProfile: profiles } : {}),
      interaction: interactions,
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'full-support',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      ...(searchParam.length ? { searchParam } : {}),
      operation: [...inputs.operations, ...(subs?.operations ?? []), ...(inputs.instanceOperations?.[type] ?? [])],
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: now.toISOString(),
    publisher: 'Concord',
    kind: 'instance',
    software: { name: 'Concord', version: inputs.version },
    implementation: { description: 'Concord FHIR R4 server for MLTSS care coordination', url: inputs.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        ...(inputs.tokenUrl ? { security: security(inputs.tokenUrl) } : {}),
        resource: resources,
        interaction: [
          { code: 'history-system' },
          ...(inputs.transactionsSupported ? [{ code: 'transaction' as const }, { code: 'batch' as const }] : []),
          ...(inputs.searchSupported ? [{ code: 'search-system' as const }] : []),
        ],
        ...(inputs.systemOperations?.length ? { operation: inputs.systemOperations } : {}),
      },
    ],
  };
}
