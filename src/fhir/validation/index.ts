// Base write validation (R4 definitions) and the required-binding machinery the profile validator reuses.
export { validateResource } from './validate-resource.js';
export type { ValidateResourceOptions } from './validate-resource.js';
export { checkBoundValue, checkRequiredBindings, requiredBindingVisitor } from './required-bindings.js';
export { isJsonObject, walkResource } from './resource-walker.js';
export type { JsonObject, WalkVisitor } from './resource-walker.js';
export type { SchemaProperty } from './schema-properties.js';
export { codeMembership, codingMembership, expand, expandValueSet, registerTerminology } from './valueset-expansion.js';
export type { Expansion, Membership } from './valueset-expansion.js';
