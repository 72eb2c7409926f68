// Who is asking: an organization's client, or someone who sees everything (an administrative client, or
// any request while authentication is off). Passed explicitly from the HTTP layer into the services.

/** A client acting for an organization. No viewer at all = sees and writes everything. */
export interface Viewer {
  /** `Organization/<id>`. */
  readonly organization: string;
}

/** What storage needs to filter by visibility: the organization and the instant "active" is judged at. */
export interface AccessFilter {
  readonly organization: string;
  /** Epoch milliseconds. */
  readonly now: number;
}

export function accessFilter(viewer: Viewer | undefined, now: Date): AccessFilter | undefined {
  return viewer ? { organization: viewer.organization, now: now.getTime() } : undefined;
}

/** The id of `Organization/<id>`. */
export function organizationId(viewer: Viewer | AccessFilter): string {
  return viewer.organization.slice('Organization/'.length);
}
