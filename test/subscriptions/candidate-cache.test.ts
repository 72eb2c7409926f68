// The per-instance list of registered Subscriptions that writes match against (docs/adr/0011, addendum
// "candidates held per instance"): a write that begins after a registration change was acknowledged, on
// this instance or another one, records its events exactly as the in-transaction query did.
import { randomBytes } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteTx } from '../../src/fhir/repository.js';
import type { Database, ListenHandle } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { CandidateCache, type CommitWatcher } from '../../src/subscriptions/candidate-cache.js';
import type { Candidate } from '../../src/subscriptions/store.js';
import { openTestDatabase, postgresUrl, storageBackends } from '../support/db.js';
import { FHIR_JSON, type TestServer } from '../support/server.js';
import { syncsSent } from '../support/fence-syncs.js';
import { putSubscription, startSubscriptionServer, stored, subscription } from './support.js';

const ENV = { SUBSCRIPTION_DISPATCH: 'off', SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1:9' };

const patient = (id: string): Resource => ({ resourceType: 'Patient', id, name: [{ family: id }], birthDate: '1950-01-01' });

async function writePatient(s: TestServer, id: string): Promise<void> {
  const res = await s.request({ method: 'PUT', url: `/fhir/Patient/${id}`, payload: patient(id), headers: { 'content-type': FHIR_JSON } });
  expect([200, 201], res.body).toContain(res.statusCode);
}

async function accepted(res: Promise<{ statusCode: number; body: string }>): Promise<void> {
  const r = await res;
  expect([200, 201], r.body).toContain(r.statusCode);
}

async function deleteSubscription(s: TestServer, id: string): Promise<void> {
  const res = await s.request({ method: 'DELETE', url: `/fhir/Subscription/${id}` });
  expect([200, 204], res.body).toContain(res.statusCode);
}

const focusIds = async (s: TestServer, sub: string): Promise<string[]> => (await stored(s, sub)).map((n) => n.focusId ?? '');

describe('CandidateCache', () => {
  const tx = {} as WriteTx;
  const row = (id: string): Candidate => ({ id, criteriaType: 'Patient', criteria: 'Patient', filters: [] });

  function setup(heard: () => Promise<boolean> = () => Promise.resolve(true)) {
    let watcher!: CommitWatcher;
    const pending: { resolve(rows: Candidate[]): void; reject(err: Error): void }[] = [];
    const cache = new CandidateCache(() => new Promise<Candidate[]>((resolve, reject) => pending.push({ resolve, reject })), {
      watchCommits: (w) => {
        watcher = w;
        w.onConnected();
      },
      heardEarlierCommits: heard,
    });
    // current() awaits the fence before it loads: let that settle.
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    return { cache, watcher: () => watcher, pending, tick };
  }

  it('concurrent writes share one reload, and the list is then served without loading', async () => {
    const { cache, pending, tick } = setup();
    const first = cache.current(tx);
    const second = cache.current(tx);
    await tick();
    expect(pending).toHaveLength(1);
    pending[0]!.resolve([row('a')]);
    expect((await first)?.map((c) => c.id)).toEqual(['a']);
    expect((await second)?.map((c) => c.id)).toEqual(['a']);
    expect((await cache.current(tx))?.map((c) => c.id)).toEqual(['a']);
    expect(cache.reloads).toBe(1);
  });

  it('a reload racing an invalidation is not installed, and is not joined by a write that began after it', async () => {
    const { cache, watcher, pending, tick } = setup();
    const early = cache.current(tx);
    await tick();
    watcher().onChange('Subscription/b');
    // Began after the change was heard: must not take the reload that may predate it.
    const late = cache.current(tx);
    await tick();
    expect(pending).toHaveLength(2);
    pending[0]!.resolve([row('a')]);
    pending[1]!.resolve([row('a'), row('b')]);
    expect((await early)?.map((c) => c.id)).toEqual(['a']);
    expect((await late)?.map((c) => c.id)).toEqual(['a', 'b']);
    expect((await cache.current(tx))?.map((c) => c.id)).toEqual(['a', 'b']);
    expect(cache.reloads).toBe(2);
  });

  it('an invalidation while the only reload runs: the next write loads again', async () => {
    const { cache, watcher, pending, tick } = setup();
    const early = cache.current(tx);
    await tick();
    watcher().onChange('Subscription/b');
    pending[0]!.resolve([row('a')]);
    await early;
    const next = cache.current(tx);
    await tick();
    expect(pending).toHaveLength(2);
    pending[1]!.resolve([row('a'), row('b')]);
    expect((await next)?.map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('other resources do not invalidate; a lost listener or an unproven fence means query', async () => {
    let proven = true;
    const { cache, watcher, pending, tick } = setup(() => Promise.resolve(proven));
    const first = cache.current(tx);
    await tick();
    pending[0]!.resolve([row('a')]);
    await first;
    watcher().onChange('Patient/x');
    expect((await cache.current(tx))?.map((c) => c.id)).toEqual(['a']);
    proven = false;
    expect(await cache.current(tx)).toBeUndefined();
    proven = true;
    watcher().onLost();
    expect(await cache.current(tx)).toBeUndefined();
    watcher().onConnected();
    const again = cache.current(tx);
    await tick();
    pending[1]!.resolve([]);
    expect(await again).toEqual([]);
    expect(cache.reloads).toBe(2);
  });

  it('a failed reload is the starting write own error; a write that joined it queries instead', async () => {
    const { cache, pending, tick } = setup();
    const first = cache.current(tx);
    const joined = cache.current(tx);
    await tick();
    pending[0]!.reject(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    expect(await joined).toBeUndefined();
  });
});

describe.each(storageBackends())('one instance (%s): a registration change is seen by the next write', (backend) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startSubscriptionServer(ENV, {}, await openTestDatabase(backend, { max: 15 }));
  });
  afterAll(async () => {
    await s.close();
  });

  it('create, then write: recorded; off, then write: not; back on and delete, then write: not', async () => {
    await writePatient(s, 'cc1-warm'); // the list is loaded (no Subscription yet)
    const before = s.candidateCache!.reloads;
    await accepted(putSubscription(s, { id: 'cc1-sub', criteria: 'Patient' }));
    await writePatient(s, 'cc1-p1');
    expect(await focusIds(s, 'cc1-sub')).toEqual(['cc1-p1']);
    await accepted(putSubscription(s, { id: 'cc1-sub', criteria: 'Patient', status: 'off' }));
    await writePatient(s, 'cc1-p2');
    expect(await focusIds(s, 'cc1-sub')).toEqual(['cc1-p1']);
    await accepted(putSubscription(s, { id: 'cc1-sub', criteria: 'Patient', status: 'requested' }));
    await writePatient(s, 'cc1-p3');
    expect(await focusIds(s, 'cc1-sub')).toEqual(['cc1-p1', 'cc1-p3']);
    await accepted(putSubscription(s, { id: 'cc1-other', criteria: 'Patient?family=cc1-p5' }));
    await deleteSubscription(s, 'cc1-sub');
    await writePatient(s, 'cc1-p4');
    await writePatient(s, 'cc1-p5');
    expect(await focusIds(s, 'cc1-other')).toEqual(['cc1-p5']);
    // The list served these writes: loaded again after each change, not per write.
    expect(s.candidateCache!.reloads - before).toBeGreaterThanOrEqual(4);
    expect(s.candidateCache!.reloads - before).toBeLessThanOrEqual(6);
  });

  it('a Subscription and a matching resource in one transaction: the write sees its own registration', async () => {
    const res = await s.request({
      method: 'POST',
      url: '/fhir',
      payload: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { request: { method: 'PUT', url: 'Subscription/cc1-tx' }, resource: subscription({ id: 'cc1-tx', criteria: 'Patient' }) },
          { request: { method: 'PUT', url: 'Patient/cc1-tx-p' }, resource: patient('cc1-tx-p') },
        ],
      },
      headers: { 'content-type': FHIR_JSON },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await focusIds(s, 'cc1-tx')).toEqual(['cc1-tx-p']);
  });
});

describe.each(storageBackends())('SUBSCRIPTION_CANDIDATE_CACHE=off (%s)', (backend) => {
  it('every write queries, with the same events', async () => {
    const s = await startSubscriptionServer({ ...ENV, SUBSCRIPTION_CANDIDATE_CACHE: 'off' }, {}, await openTestDatabase(backend, { max: 15 }));
    try {
      expect(s.candidateCache).toBeUndefined();
      await accepted(putSubscription(s, { id: 'cc-off-sub', criteria: 'Patient' }));
      await writePatient(s, 'cc-off-p1');
      await deleteSubscription(s, 'cc-off-sub');
      await writePatient(s, 'cc-off-p2');
      await accepted(putSubscription(s, { id: 'cc-off-sub2', criteria: 'Patient' }));
      await writePatient(s, 'cc-off-p3');
      expect(await focusIds(s, 'cc-off-sub2')).toEqual(['cc-off-p3']);
    } finally {
      await s.close();
    }
  });
});

/**
 * B hears the change channel late (every message, in order, DELAY_MS after it arrived) and its listener
 * can be lost on demand: only the read fence makes B's writes see A's acknowledged changes.
 */
const DELAY_MS = 150;

function slowListener(db: Database): { db: Database; lose(): Promise<void> } {
  let current: { handle: ListenHandle; onLost: (err: unknown) => void } | undefined;
  const wrapped: Database = {
    ...db,
    async listen(channel, onMessage, onLost) {
      const handle = await db.listen!(channel, (payload) => setTimeout(() => onMessage(payload), DELAY_MS), onLost);
      if (channel.startsWith('concord_changes_')) current = { handle, onLost };
      return handle;
    },
  };
  return {
    db: wrapped,
    async lose() {
      const c = current;
      current = undefined;
      if (!c) throw new Error('not listening');
      await c.handle.stop();
      c.onLost(new Error('listen connection ended'));
    },
  };
}

// READ_CACHE_WITH_PEERS=sync: B proves its list current with a sync on the change listener and uses it;
// database (the default): while A is there B's list is unproven, so each write queries, and sends no sync.
describe.skipIf(!postgresUrl()).each(['sync', 'database'] as const)('two instances on one database (READ_CACHE_WITH_PEERS=%s): B sees A registration changes', (mode) => {
  let a: TestServer;
  let b: TestServer;
  let bListener: { lose(): Promise<void> };
  const schema = `t_${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    const connectionString = postgresUrl()!;
    const dbA = await openPostgres({ connectionString, schema, max: 10 });
    await migrate(dbA);
    const slow = slowListener(await openPostgres({ connectionString, schema, max: 10 }));
    bListener = slow;
    a = await startSubscriptionServer({ ...ENV, READ_CACHE_WITH_PEERS: mode }, {}, dbA);
    b = await startSubscriptionServer({ ...ENV, READ_CACHE_WITH_PEERS: mode }, {}, slow.db);
    await writePatient(a, 'ci-seed');
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    const cleanup = await openPostgres({ connectionString: postgresUrl()!, schema });
    await a?.close();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await cleanup.close();
  });

  it('created on A, then at once a write on B: recorded; off on A: not; deleted on A: not', async () => {
    await writePatient(b, 'ci-warm');
    const loaded = b.candidateCache!.reloads;
    if (mode === 'sync') expect(loaded).toBeGreaterThan(0);
    let syncs = 0;
    const writeB = async (id: string): Promise<void> => {
      syncs += await syncsSent(() => writePatient(b, id));
    };
    await accepted(putSubscription(a, { id: 'ci-sub', criteria: 'Patient' }));
    await writeB('ci-p1');
    expect(await focusIds(a, 'ci-sub')).toEqual(['ci-p1']);
    await accepted(putSubscription(a, { id: 'ci-sub', criteria: 'Patient', status: 'off' }));
    await writeB('ci-p2');
    await accepted(putSubscription(a, { id: 'ci-sub', criteria: 'Patient', status: 'requested' }));
    await writeB('ci-p3');
    expect(await focusIds(a, 'ci-sub')).toEqual(['ci-p1', 'ci-p3']);
    await accepted(putSubscription(a, { id: 'ci-other', criteria: 'Patient?family=ci-p5' }));
    await deleteSubscription(a, 'ci-sub');
    await writeB('ci-p4');
    await writeB('ci-p5');
    expect(await focusIds(a, 'ci-other')).toEqual(['ci-p5']);
    expect(await focusIds(a, 'ci-sub')).toEqual([]);
    if (mode === 'sync') {
      // B used its list (reloaded after each change it heard), proven by a sync per write.
      expect(b.candidateCache!.reloads).toBeGreaterThan(loaded);
      expect(syncs).toBeGreaterThanOrEqual(5);
    } else {
      // B queried in each write's transaction: no list loaded, no sync sent.
      expect(b.candidateCache!.reloads).toBe(loaded);
      expect(syncs).toBe(0);
    }
  }, 30_000);

  it('registrations on A while B writes concurrently: every write begun after an acknowledgement records its event', async () => {
    let running = true;
    let background = 0;
    // Concurrent writes on B share reloads and race the invalidations A's registrations cause.
    const noise = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        while (running) await writePatient(b, `cn-noise-${w}-${background++}`);
      }),
    );
    try {
      for (let k = 0; k < 8; k++) {
        await accepted(putSubscription(a, { id: `cn-sub-${k}`, criteria: `Patient?family=cn-p${k}` }));
        await Promise.all([writePatient(b, `cn-p${k}`), writePatient(b, `cn-p${k}`.replace('cn-p', 'cn-q'))]);
      }
    } finally {
      running = false;
      await noise;
    }
    for (let k = 0; k < 8; k++) expect(await focusIds(a, `cn-sub-${k}`)).toEqual([`cn-p${k}`]);
    expect(background).toBeGreaterThan(8);
  }, 60_000);

  it('listener lost on B: B queries and stays right; reconnected, it uses the list again', async () => {
    await writePatient(b, 'cl-warm');
    await bListener.lose();
    const reloads = b.candidateCache!.reloads;
    await accepted(putSubscription(a, { id: 'cl-sub', criteria: 'Patient' }));
    await writePatient(b, 'cl-p1');
    await deleteSubscription(a, 'cl-sub');
    await accepted(putSubscription(a, { id: 'cl-sub2', criteria: 'Patient' }));
    await writePatient(b, 'cl-p2');
    expect(await focusIds(a, 'cl-sub2')).toEqual(['cl-p2']);
    expect(b.candidateCache!.reloads).toBe(reloads);
    // Reconnects within a second or so: then changes made while it was away are not missed. With
    // 'database' B never uses its list while A is there; with 'sync' it does again once reconnected.
    const deadline = Date.now() + 10_000;
    while (mode === 'sync' && b.candidateCache!.reloads === reloads && Date.now() < deadline) {
      await writePatient(b, `cl-wait-${Date.now()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (mode === 'sync') expect(b.candidateCache!.reloads).toBeGreaterThan(reloads);
    else await new Promise((r) => setTimeout(r, 1500));
    await accepted(putSubscription(a, { id: 'cl-sub2', criteria: 'Patient', status: 'off' }));
    await writePatient(b, 'cl-p3');
    await accepted(putSubscription(a, { id: 'cl-sub3', criteria: 'Patient' }));
    await writePatient(b, 'cl-p4');
    expect((await focusIds(a, 'cl-sub2')).filter((f) => f.startsWith('cl-p'))).toEqual(['cl-p2']);
    expect(await focusIds(a, 'cl-sub3')).toEqual(['cl-p4']);
  }, 30_000);
});
