// The write hook point of ResourceService: beforeCommit writes commit or roll back with the write, and
// a failing refused() hook never replaces the refusal the client gets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issue } from '../../src/fhir/outcome.js';
import { ResourceService, type WriteHook } from '../../src/fhir/resource-service.js';
import { RuleViolationError, type TransactionalChecker } from '../../src/fhir/write-pipeline.js';
import { ResourceRepository } from '../../src/storage/resource-repository.js';
import type { Database } from '../../src/storage/database.js';
import { openTestDatabase } from '../support/db.js';

let db: Database;
let repo: ResourceRepository;
beforeAll(async () => {
  db = await openTestDatabase('pglite');
  repo = new ResourceRepository(db);
});
afterAll(async () => {
  await repo.close();
});

const refuseEverything: TransactionalChecker = {
  lock: () => Promise.resolve(),
  check: () => Promise.resolve([{ issue: issue('business-rule', 'refused by the test rule') }]),
};

describe('write hooks', () => {
  it('a refused() hook that fails leaves the refusal as the answer', async () => {
    let called = false;
    const hook: WriteHook = {
      beforeCommit: () => Promise.resolve(),
      refused: () => {
        called = true;
        return Promise.reject(new Error('recording failed'));
      },
    };
    const service = new ResourceService(repo, { validate: () => [], checker: refuseEverything, hooks: [hook] });
    await expect(service.create('Patient', { resourceType: 'Patient' })).rejects.toBeInstanceOf(RuleViolationError);
    expect(called).toBe(true);
  });

  it('a beforeCommit hook that throws rolls the write back', async () => {
    const hook: WriteHook = { beforeCommit: () => Promise.reject(new Error('no')) };
    const service = new ResourceService(repo, { validate: () => [], hooks: [hook] });
    await expect(service.update('Patient', 'hook-rollback', { resourceType: 'Patient', id: 'hook-rollback' })).rejects.toThrow('no');
    expect(await repo.read('Patient', 'hook-rollback')).toBeUndefined();
  });
});
