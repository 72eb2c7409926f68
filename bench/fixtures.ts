// The Patient the benchmarks send and serve: about 1 KB of JSON, valid against R4 (Concord validates
// every create).

export function benchPatient(n = 0): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    identifier: [
      { system: 'urn:oid:2.16.840.1.113883.4.1', value: `999-${String(n % 100).padStart(2, '0')}-${String(1000 + (n % 9000))}` },
      { system: 'https://medicaid.example.org/member-id', value: `MCD${String(100000 + n)}` },
    ],
    active: true,
    name: [
      { use: 'official', family: 'Rivera', given: ['Ana', 'Lucia'], prefix: ['Mrs.'] },
      { use: 'nickname', given: ['Annie'] },
    ],
    telecom: [
      { system: 'phone', value: '+1 555 0100 123', use: 'home' },
      { system: 'phone', value: '+1 555 0100 456', use: 'mobile', rank: 1 },
      { system: 'email', value: 'ana.rivera@example.org', use: 'home' },
    ],
    gender: 'female',
    birthDate: '1948-03-02',
    address: [
      {
        use: 'home',
        type: 'physical',
        line: ['1200 Magnolia Avenue', 'Apartment 4B'],
        city: 'Springfield',
        district: 'Sangamon',
        state: 'IL',
        postalCode: '62704',
        country: 'US',
      },
    ],
    maritalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W', display: 'Widowed' }],
    },
    contact: [
      {
        relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N', display: 'Next-of-Kin' }] }],
        name: { family: 'Rivera', given: ['Marco'] },
        telecom: [{ system: 'phone', value: '+1 555 0100 789' }],
      },
    ],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es', display: 'Spanish' }] }, preferred: true }],
  };
}

/** What the bare route serves on GET: the same document as Concord returns it (id and meta added). */
export function benchPatientAsStored(): Record<string, unknown> {
  return {
    ...benchPatient(),
    id: '2b1f7a52-3a8e-4d7e-9c1a-6f0e8b9d4c21',
    meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00.000Z' },
  };
}
