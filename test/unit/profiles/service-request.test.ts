import { OperationOutcomeError, validateResource } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { serviceRequest } from './fixtures.js';
import { summary, validate } from './helpers.js';

describe('coordinated-service-request', () => {
  it('accepts a valid request', () => {
    expect(validate(serviceRequest())).toEqual([]);
  });

  it.each(['code', 'requester'] as const)('requires %s', (key) => {
    const request = serviceRequest();
    delete request[key];
    expect(summary(validate(request))).toEqual([`required ServiceRequest.${key}`]);
  });

  // subject, status and intent are 1..1 in R4 already: base validation reports them, the profile layer
  // reports only what the profile adds, so the two layers never duplicate an issue.
  it.each(['subject', 'status', 'intent'] as const)('leaves the base-required %s to base validation', (key) => {
    loadDefinitions();
    const request = serviceRequest();
    delete request[key];
    expect(validate(request)).toEqual([]);
    expect(() => validateResource(request)).toThrow(OperationOutcomeError);
  });

  it('requires occurrencePeriod', () => {
    const request = serviceRequest();
    delete request.occurrencePeriod;
    expect(summary(validate(request))).toEqual(['required ServiceRequest.occurrence']);
  });

  it('allows only a Period occurrence', () => {
    const request = serviceRequest();
    delete request.occurrencePeriod;
    request.occurrenceDateTime = '2026-02-01';
    expect(summary(validate(request))).toEqual(['structure ServiceRequest.occurrenceDateTime']);
  });
});
