import { describe, expect, it } from 'vitest';
import { optOutConsent, sharingConsent } from './fixtures.js';
import { summary, validate } from './helpers.js';

const failed = (issues: ReturnType<typeof validate>): string[] => issues.map((i) => /Constraint (\S+)/.exec(i.diagnostics ?? '')?.[1] ?? i.code);

describe('coordination-consent', () => {
  it('accepts a data-sharing consent and a program opt-out', () => {
    expect(validate(sharingConsent())).toEqual([]);
    expect(validate(optOutConsent())).toEqual([]);
  });

  it('requires patient', () => {
    const consent = sharingConsent();
    delete consent.patient;
    expect(summary(validate(consent))).toEqual(['required Consent.patient']);
  });

  it('ccon-1: scope is patient-privacy or treatment', () => {
    const consent = sharingConsent();
    consent.scope = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] };
    const issues = validate(consent);
    expect(summary(issues)).toEqual(['invariant Consent']);
    expect(failed(issues)).toEqual(['ccon-1']);
  });

  it('ccon-2: data sharing needs provision actors', () => {
    const consent = sharingConsent();
    delete consent.provision;
    expect(failed(validate(consent))).toEqual(['ccon-2']);
  });

  it('ccon-3: opt-out needs policyRule OPTOUT', () => {
    const consent = optOutConsent();
    consent.policyRule = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] };
    expect(failed(validate(consent))).toEqual(['ccon-3']);
  });

  it('ccon-4: opt-out needs provision type deny', () => {
    const consent = optOutConsent();
    if (consent.provision) consent.provision.type = 'permit';
    expect(failed(validate(consent))).toEqual(['ccon-4']);
  });

  it('ccon-5: opt-out names the organization opted out of', () => {
    const consent = optOutConsent();
    if (consent.provision) delete consent.provision.actor;
    expect(failed(validate(consent))).toEqual(['ccon-5']);
  });

  it('ccon-6: opt-out has period.start', () => {
    const consent = optOutConsent();
    if (consent.provision) consent.provision.period = { end: '2026-12-31' };
    expect(failed(validate(consent))).toEqual(['ccon-6']);
  });

  it('an opt-out without a provision fails every provision invariant', () => {
    const consent = optOutConsent();
    delete consent.provision;
    expect(failed(validate(consent))).toEqual(['ccon-4', 'ccon-5', 'ccon-6']);
  });

  it('provision actors are Organizations', () => {
    const consent = sharingConsent();
    const actor = consent.provision?.actor?.[0];
    if (actor) actor.reference = { reference: 'Practitioner/x' };
    expect(summary(validate(consent))).toEqual(['structure Consent.provision.actor[0].reference']);
  });
});
