import { describe, expect, it } from 'vitest';
import { grantScopes, parseScope, ScopeSet } from '../../src/auth/scopes.js';

describe('SMART scopes', () => {
  it('parses v2 (cruds subsets in order) and v1 (read/write/*) system scopes', () => {
    expect([...parseScope('system/CareTeam.rs')!.permissions]).toEqual(['r', 's']);
    expect([...parseScope('system/*.cruds')!.permissions]).toEqual(['c', 'r', 'u', 'd', 's']);
    expect([...parseScope('system/*.read')!.permissions].sort()).toEqual(['r', 's']);
    expect([...parseScope('system/*.write')!.permissions].sort()).toEqual(['c', 'd', 'u']);
    expect(parseScope('system/*.*')!.permissions.size).toBe(5);
    for (const bad of ['system/Patient.sr', 'system/Patient.rr', 'patient/Patient.rs', 'user/*.read', 'system/Patient.r?category=x', 'system/patient.rs', 'launch', 'system/Patient.']) {
      expect(parseScope(bad), bad).toBeUndefined();
    }
  });

  it('answers per type and permission', () => {
    const set = ScopeSet.parse('system/Patient.rs system/CareTeam.c');
    expect(set.allows('Patient', 'r')).toBe(true);
    expect(set.allows('Patient', 'u')).toBe(false);
    expect(set.allows('CareTeam', 'c')).toBe(true);
    expect(set.allows('Observation', 'r')).toBe(false);
    expect(set.allowsAllTypes('s')).toBe(false);
    expect(ScopeSet.parse('system/*.s').allowsAllTypes('s')).toBe(true);
  });

  it('grants requested ∩ registered, narrowing in v2 form and echoing full grants as written', () => {
    const registered = ScopeSet.parse('system/Patient.rs system/CareTeam.cruds');
    expect(grantScopes('system/*.cruds', registered).toString()).toBe('system/Patient.rs system/CareTeam.cruds');
    expect(grantScopes('system/Patient.read', registered).toString()).toBe('system/Patient.read');
    expect(grantScopes('system/Patient.cruds', registered).toString()).toBe('system/Patient.rs');
    expect(grantScopes('system/Observation.rs launch', registered).toString()).toBe('');
    expect(grantScopes('system/Observation.rs', ScopeSet.parse('system/*.read')).toString()).toBe('system/Observation.rs');
  });
});
