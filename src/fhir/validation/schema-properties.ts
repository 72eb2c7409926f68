// Maps the JSON property names of an object to the medplum schema elements they instantiate. Choice
// elements appear in JSON under one name per type (value[x] -> valueQuantity, valueCodeableConcept, ...),
// so each schema gets a lookup table, built once and kept for the life of the schema object.
import type { InternalSchemaElement, InternalTypeSchema } from '@medplum/core';

export interface SchemaProperty {
  /** Element key in the schema, e.g. `status` or `value[x]`. */
  readonly elementName: string;
  readonly element: InternalSchemaElement;
  /** The FHIR type this JSON property holds. */
  readonly typeCode: string;
  /** Set for choice elements: the element name without `[x]`. */
  readonly choiceBase?: string;
}

export interface SchemaProperties {
  readonly byJsonName: ReadonlyMap<string, SchemaProperty>;
  /** Profile snapshots constrain descendants of complex types under dotted keys such as `identifier.system`. */
  readonly dotted: readonly [string, InternalSchemaElement][];
}

const tables = new WeakMap<InternalTypeSchema, SchemaProperties>();

export function schemaProperties(schema: InternalTypeSchema): SchemaProperties {
  let table = tables.get(schema);
  if (!table) {
    table = buildTable(schema);
    tables.set(schema, table);
  }
  return table;
}

function buildTable(schema: InternalTypeSchema): SchemaProperties {
  const byJsonName = new Map<string, SchemaProperty>();
  const dotted: [string, InternalSchemaElement][] = [];
  for (const [elementName, element] of Object.entries(schema.elements)) {
    if (elementName.includes('.')) {
      dotted.push([elementName, element]);
    } else if (elementName.endsWith('[x]')) {
      const choiceBase = elementName.slice(0, -3);
      for (const t of element.type) {
        byJsonName.set(choiceBase + upperFirst(t.code), { elementName, element, typeCode: t.code, choiceBase });
      }
    } else {
      byJsonName.set(elementName, { elementName, element, typeCode: element.type[0]?.code ?? '' });
    }
  }
  return { byJsonName, dotted };
}

/** `valueString` from `value[x]` and `string`: a choice element's JSON name for one of its types. */
export function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** FHIR primitive type names start lower-case; the FHIRPath system types used for ids and urls are urls. */
export function isPrimitiveTypeCode(code: string): boolean {
  const first = code.charCodeAt(0);
  return (first >= 97 && first <= 122) || code.startsWith('http');
}
