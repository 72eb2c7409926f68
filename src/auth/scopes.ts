// SMART App Launch 2.x scopes for backend services: `system/<Type|*>.<cruds>` (v2) and the v1 forms
// `system/<Type|*>.read|write|*`. Only the `system/` context is meaningful for client-credentials
// clients; scopes with `?` parameters (v2 finer-grained scopes) are not supported and never granted.

/** c create, r read/vread/history-instance, u update/patch, d delete, s search/history-type/system. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
export const PERMISSIONS: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

export interface Scope {
  /** A resource type or '*'. */
  type: string;
  permissions: ReadonlySet<Permission>;
  /** The text as written. */
  text: string;
}

const V1: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };

/** Parses one scope; undefined when it is not a supported system scope (other contexts, `?` parameters, typos). */
export function parseScope(text: string): Scope | undefined {
  const m = /^system\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$/.exec(text);
  if (!m) return undefined;
  const [, type, access] = m as unknown as [string, string, string];
  const v1 = V1[access];
  if (v1) return { type, permissions: new Set(v1), text };
  // v2: a non-empty subsequence of "cruds", in that order.
  let last = -1;
  for (const ch of access) {
    const at = PERMISSIONS.indexOf(ch as Permission);
    if (at <= last) return undefined;
    last = at;
  }
  return { type, permissions: new Set(access as unknown as Permission[]), text };
}

export function v2Text(type: string, permissions: ReadonlySet<Permission>): string {
  return `system/${type}.${PERMISSIONS.filter((p) => permissions.has(p)).join('')}`;
}

/** A set of granted scopes answering "may this client do <permission> on <type>?". */
export class ScopeSet {
  readonly scopes: readonly Scope[];

  constructor(scopes: Iterable<Scope>) {
    this.scopes = [...scopes];
  }

  static parse(text: string): ScopeSet {
    return new ScopeSet(
      text
        .split(/\s+/)
        .filter((s) => s !== '')
        .map(parseScope)
        .filter((s): s is Scope => s !== undefined),
    );
  }

  allows(type: string, permission: Permission): boolean {
    return this.scopes.some((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission));
  }

  /** The permission on every type (wildcard scopes only): system-level search and history need it. */
  allowsAllTypes(permission: Permission): boolean {
    return this.scopes.some((s) => s.type === '*' && s.permissions.has(permission));
  }

  toString(): string {
    return this.scopes.map((s) => s.text).join(' ');
  }
}

/**
 * Granted = requested ∩ registered, scope by scope: a requested scope is narrowed to what registered
 * scopes allow (`system/*.cruds` requested by a client registered for `system/Patient.rs` gives
 * `system/Patient.rs`). A requested scope granted in full is echoed as written (v1 or v2); a narrowed
 * one is written in v2 form. Unsupported requested scopes are dropped.
 */
export function grantScopes(requested: string, registered: ScopeSet): ScopeSet {
  const out = new Map<string, Scope>();
  for (const text of requested.split(/\s+/).filter((s) => s !== '')) {
    const want = parseScope(text);
    if (!want) continue;
    for (const have of registered.scopes) {
      const type = want.type === '*' ? have.type : have.type === '*' || have.type === want.type ? want.type : undefined;
      if (type === undefined) continue;
      const permissions = new Set([...want.permissions].filter((p) => have.permissions.has(p)));
      if (permissions.size === 0) continue;
      const full = type === want.type && permissions.size === want.permissions.size;
      const scope: Scope = full ? want : { type, permissions, text: v2Text(type, permissions) };
      out.set(scope.text, scope);
    }
  }
  return new ScopeSet(out.values());
}
