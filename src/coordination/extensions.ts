// Extension lookups that keep the index, because issue expressions point at `extension[i]`.
import type { Extension } from '@medplum/fhirtypes';

export interface Indexed<T> {
  readonly index: number;
  readonly value: T;
}

export function extensionsByUrl(owner: { extension?: Extension[] } | undefined, url: string): Indexed<Extension>[] {
  const out: Indexed<Extension>[] = [];
  owner?.extension?.forEach((value, index) => {
    if (value.url === url) out.push({ index, value });
  });
  return out;
}

export function firstExtension(owner: { extension?: Extension[] } | undefined, url: string): Indexed<Extension> | undefined {
  return extensionsByUrl(owner, url)[0];
}

/** Sub-extensions of a complex extension by their (relative) url. */
export function subExtensions(ext: Extension | undefined, url: string): Extension[] {
  return ext?.extension?.filter((e) => e.url === url) ?? [];
}
