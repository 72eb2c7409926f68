// Where PostgreSQL's CPU per Patient create goes: by statement, by part of the version-write statement,
// by index, and by WAL record kind. The statements of one real create (in-process Concord, rules on,
// audit on, auth off) are captured through a shim on node-postgres, then replayed with fresh ids as
// sequential transactions on two connections to two identical scratch schemas: F (always the full
// create) and V (the variant: one statement left out, one part of the version write inserting nothing,
// one index dropped, GIN fastupdate off). Transactions alternate F, V, V, F, ... and each one's backend
// CPU is read from /proc/<pid>/schedstat (nanoseconds, not 10 ms ticks), so a variant's cost is the
// median of paired differences, robust to the load of a shared machine. Autovacuum is off on both
// schemas; GIN pending lists are cleaned (gin_clean_pending_list) after every measurement by the
// measuring connection, and that deferred work is reported per create beside the medians.
//
//   npx tsx bench/create-pg-cpu.ts [--n 400] [--sync on|off] [--pipelined] [--parts statements,version,aliases,indexes,fkeys,gin,wal,ids,fold] [--only REGEX] [--preload N]
//
// --parts ids: both lanes first get --preload N (default 300000) resource rows and AuditEvent rows with
// random (version 4) ids (copies of the replayed rows with '{}' as content: the id btrees are what is
// measured); then F replays creates with random ids and V with time-ordered (version 7) ids for the
// Patient and its AuditEvent. --preload-ordered: V's preloaded rows have time-ordered ids of past
// milliseconds instead (a store that always had them).
//
// --parts fold: F replays the create as captured (its AuditEvent an INSERT of its own behind the version
// write), V the same SQL as one statement (the INSERT a CTE of the version write); F - V is what folding
// would save (docs/adr/0024, second addendum: measured, not adopted).
//
// --pipelined: each replayed create's statements are sent back to back (node-postgres pipeline mode), as
// the server sends a transaction's, instead of one at a time (the backend then never idles inside one).
//
// --parts fkeys: F with the index tables' foreign keys to resource (as before migration 0017), V without
// them (docs/adr/0024), whichever the migrations left.
//
// --sync off: synchronous_commit = off for these two sessions only (the commit's WAL flush then
// happens in the WAL writer, not in the measured backend).
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { flags } from './args.js';
import { benchPatient } from './fixtures.js';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { openPostgres } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';

const f = flags(process.argv.slice(2));
const n = f.num('n', 400, 20, true);
const sync = (f.value('sync') ?? 'on') === 'on';
const parts = new Set((f.value('parts') ?? 'statements,version,indexes,gin,wal').split(','));
// Only the index / foreign-key / GIN variants whose label matches this regular expression.
const only = new RegExp(f.value('only') ?? '');
const preload = f.num('preload', 300_000, 0, true);
const preloadOrdered = process.argv.includes('--preload-ordered');
const pipelined = process.argv.includes('--pipelined');
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_pgcpu_${randomUUID().slice(0, 8)}`;
const schemaV = `${schema}_v`;

// ---- capture the statements of one create ------------------------------------------------------------
interface Captured {
  text: string;
  values: unknown[];
}
let capturing = false;
const captured: Captured[] = [];
type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with apply(this) below
const original = pg.Client.prototype.query as unknown as QueryFn;
(pg.Client.prototype as unknown as { query: QueryFn }).query = function (this: pg.Client, ...args: unknown[]): unknown {
  const config = args[0] as string | { text?: string; values?: unknown[] };
  const text = typeof config === 'string' ? config : (config.text ?? '');
  const values = typeof config === 'string' ? ((args[1] as unknown[] | undefined) ?? []) : (config.values ?? (args[1] as unknown[] | undefined) ?? []);
  const background = text.startsWith('SELECT pg_notify($1, $2)') || text.trimStart().startsWith('WITH due AS') || text.includes('subscription_deliver(');
  if (capturing && !background) captured.push({ text, values });
  return original.apply(this, args);
};

const db = await openPostgres({ connectionString: url, schema, max: 4, applicationName: `concord_${schema}` });
await migrate(db);
const dbV = await openPostgres({ connectionString: url, schema: schemaV, max: 2 });
await migrate(dbV);
await dbV.close();
const server = await createServer(loadConfig({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', CONCORD_AUTH: 'off', CONCORD_RULES: 'on', RATE_LIMIT_PER_MINUTE: '0' }), false, db);
const inject = async (): Promise<string> => {
  const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(benchPatient(7)) });
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
  return (JSON.parse(res.body) as { id: string }).id;
};
for (let i = 0; i < 20; i++) await inject();
capturing = true;
const patientId = await inject();
capturing = false;
await server.close();

const kindOf = (text: string): string => {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t === 'BEGIN' || t.startsWith('BEGIN')) return 'BEGIN';
  if (t === 'COMMIT') return 'COMMIT';
  if (t.startsWith('WITH r AS (INSERT INTO resource')) return 'version write';
  if (t.startsWith('INSERT INTO audit_event')) return 'audit insert';
  if (t.includes('subscription_channel')) return 'subscription candidates';
  return t.slice(0, 40);
};
const tx = captured.map((c) => ({ ...c, kind: kindOf(c.text) }));
const auditId = tx.find((s) => s.kind === 'audit insert')?.values[0] as string | undefined;
process.stdout.write(`captured create: ${tx.map((s) => s.kind).join(' | ')}\n`);
const known = new Set(['BEGIN', 'version write', 'audit insert', 'subscription candidates', 'COMMIT']);
if (tx.some((s) => !known.has(s.kind))) throw new Error('the capture holds a statement that is not part of the create');

// Fresh ids for each replay: every string (or string in an array) naming the captured ids is rewritten.
function fresh(values: unknown[], map: [string, string][]): unknown[] {
  const sub = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let s = v;
      for (const [a, b] of map) if (s.includes(a)) s = s.split(a).join(b);
      return s;
    }
    if (Array.isArray(v)) return v.map(sub);
    return v;
  };
  return values.map(sub);
}

/** An RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits (docs/adr/0024 addendum). */
function timeOrderedUuid(): string {
  const b = randomBytes(16);
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- the two replaying connections -------------------------------------------------------------------
interface Lane {
  schema: string;
  client: pg.Client;
  pid: number;
  /** The fresh ids of this lane's replays (--parts ids sets V's to time-ordered ones). */
  newId: () => string;
}
async function lane(s: string): Promise<Lane> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${s},public` });
  await client.connect();
  if (!sync) await client.query('SET synchronous_commit = off');
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  for (const t of (await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = $1`, [s])).rows) {
    await client.query(`ALTER TABLE ${t.t} SET (autovacuum_enabled = false)`);
  }
  return { schema: s, client, pid, newId: randomUUID };
}
const F = await lane(schema);
const V = await lane(schemaV);

/** CPU time of the lane's backend so far, in µs (schedstat: nanoseconds on the CPU). */
async function cpuOf(l: Lane): Promise<number> {
  return Number((await readFile(`/proc/${l.pid}/schedstat`, 'utf8')).split(' ')[0]) / 1000;
}
async function ginIndexes(l: Lane): Promise<string[]> {
  const res = await l.client.query<{ i: string }>(
    `SELECT c.relname AS i FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam
      WHERE a.amname = 'gin' AND c.relnamespace = $1::regnamespace`,
    [l.schema],
  );
  return res.rows.map((r) => r.i);
}
/** Cleans the lane's GIN pending lists; returns the CPU it took (µs). */
async function flushGin(l: Lane): Promise<number> {
  const c0 = await cpuOf(l);
  for (const i of await ginIndexes(l)) await l.client.query(`SELECT gin_clean_pending_list('${l.schema}.${i}'::regclass)`);
  return (await cpuOf(l)) - c0;
}

type Stmt = (typeof tx)[number];
type Keep = (s: Stmt) => boolean;
/** A statement as replayed instead: one, several, or none (--parts fold drops the AuditEvent insert it moved). */
type Rewrite = (s: Stmt) => Captured | Captured[];
function hash(s: string): string {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}
/** One replayed create on a lane: the statements `keep` selects, in order; its backend CPU (µs). */
/** This process's CPU (the driver: sending the statements, reading their results) in the last replay, µs. */
let lastNodeUs = 0;
async function replay(l: Lane, keep: Keep, rewrite?: Rewrite, xids?: string[]): Promise<number> {
  const map: [string, string][] = [[patientId, l.newId()]];
  if (auditId) map.push([auditId, l.newId()]);
  const c0 = await cpuOf(l);
  const n0 = process.cpuUsage();
  // --pipelined: the create's statements sent back to back, as the server's transaction sends them.
  const together = pipelined && !xids;
  const client = l.client as unknown as { pipeline: boolean };
  const sent: Promise<unknown>[] = [];
  client.pipeline = together;
  try {
    for (const s of tx) {
      if (!keep(s)) continue;
      if (xids && s.kind === 'COMMIT') xids.push((await l.client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x);
      const cs = rewrite ? rewrite(s) : s;
      for (const c of Array.isArray(cs) ? cs : [cs]) {
        const values = fresh(c.values, map);
        const q = values.length === 0 ? l.client.query(c.text) : l.client.query({ name: `r${hash(c.text)}`, text: c.text, values });
        if (together) sent.push(q);
        else await q;
      }
    }
    await Promise.all(sent);
  } finally {
    client.pipeline = false;
  }
  const used = process.cpuUsage(n0);
  lastNodeUs = used.user + used.system;
  return (await cpuOf(l)) - c0;
}
const all: Keep = () => true;
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Pair {
  label: string;
  full: number;
  variant: number;
  diff: number;
  /** GIN pending-list cleanup per create after the measurement, full / variant lane (µs). */
  ginFull: number;
  ginVariant: number;
  /** Median paired difference of this process's CPU (the driver), µs. */
  nodeDiff: number;
}
/** n alternating pairs (full on F, variant on V); medians and the median paired difference. */
async function pairs(label: string, keep: Keep = all, rewrite?: Rewrite, fullRewrite?: Rewrite): Promise<Pair> {
  await flushGin(F);
  await flushGin(V);
  const a: number[] = [];
  const na: number[] = [];
  const nb: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      a.push(await replay(F, all, fullRewrite));
      na.push(lastNodeUs);
      b.push(await replay(V, keep, rewrite));
      nb.push(lastNodeUs);
    } else {
      b.push(await replay(V, keep, rewrite));
      nb.push(lastNodeUs);
      a.push(await replay(F, all, fullRewrite));
      na.push(lastNodeUs);
    }
  }
  const ginFull = (await flushGin(F)) / n;
  const ginVariant = (await flushGin(V)) / n;
  return { label, full: med(a), variant: med(b), diff: med(a.map((x, i) => x - b[i]!)), ginFull, ginVariant, nodeDiff: med(na.map((x, i) => x - nb[i]!)) };
}
const out = (s: string): boolean => process.stdout.write(s);
const table = (title: string, rows: Pair[]): void => {
  out(`\n| ${title} | full µs | variant µs | median paired difference µs | GIN cleanup per create after, full / variant µs | driver (this process) paired difference µs |\n|---|---:|---:|---:|---:|---:|\n`);
  for (const r of rows) out(`| ${r.label} | ${r.full.toFixed(0)} | ${r.variant.toFixed(0)} | **${r.diff.toFixed(0)}** | ${r.ginFull.toFixed(0)} / ${r.ginVariant.toFixed(0)} | ${r.nodeDiff.toFixed(0)} |\n`);
};

try {
  const load0 = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  out(`schemas ${schema}(_v), ${n} pairs per measurement, synchronous_commit ${sync ? 'on' : 'off'}, load ${load0}\n`);
  for (let i = 0; i < 300; i++) {
    await replay(F, all);
    await replay(V, all);
  }
  table('baseline (both lanes full)', [await pairs('same create on both')]);

  if (parts.has('statements')) {
    const rows: Pair[] = [];
    for (const kind of ['version write', 'audit insert', 'subscription candidates']) rows.push(await pairs(`without ${kind}`, (s) => s.kind !== kind));
    rows.push(await pairs('BEGIN + COMMIT only', (s) => s.kind === 'BEGIN' || s.kind === 'COMMIT'));
    table('statements left out', rows);
  }

  if (parts.has('fold')) {
    // F as captured (the AuditEvent an INSERT of its own behind the version write); V the same SQL as one
    // statement, the INSERT a last CTE of the version write (its parameters renumbered after the write's).
    const vw = tx.find((s) => s.kind === 'version write');
    const audit = tx.find((s) => s.kind === 'audit insert');
    if (!vw || !audit) throw new Error('--parts fold: the capture holds no version write and AuditEvent insert');
    const at = vw.text.lastIndexOf('\nSELECT ');
    const shift = vw.values.length;
    const cte = audit.text.replace(/\$(\d+)/g, (_m, d: string) => `$${Number(d) + shift}`);
    const foldedWrite: Captured = { text: `${vw.text.slice(0, at)},\naudit AS (${cte})${vw.text.slice(at)}`, values: [...vw.values, ...audit.values] };
    const fold: Rewrite = (s) => (s === vw ? foldedWrite : s === audit ? [] : s);
    table('AuditEvent an INSERT of its own (F, as now) vs a CTE of the version write (V)', [await pairs('AuditEvent inside the version write', all, fold)]);
  }

  if (parts.has('version')) {
    // The version write's index CTE of one table kept (its parameters keep their types) but inserting nothing.
    const vw = tx.find((s) => s.kind === 'version write')!;
    const ctes = [...vw.text.matchAll(/\n(i\d+) AS \(INSERT INTO (\w+)/g)].map((m) => [m[1]!, m[2]!] as const);
    const without =
      (names: string[]) =>
      (s: Stmt): Captured => {
        if (s.kind !== 'version write') return s;
        let text = s.text;
        for (const name of names) text = text.replace(new RegExp(`(\\n${name} AS \\(INSERT INTO [^\\n]*) AS u\\)`), '$1 AS u WHERE false)');
        return { text, values: s.values };
      };
    if (without(ctes.map((c) => c[0]))(vw).text.split('WHERE false').length !== ctes.length + 1) throw new Error('index CTEs not found in the version write');
    const rows: Pair[] = [];
    for (const [name, t] of ctes) rows.push(await pairs(`version write without ${t} rows`, all, without([name])));
    rows.push(await pairs('version write without any index rows', all, without(ctes.map((c) => c[0]))));
    table('version-write part inserting nothing', rows);
  }

  if (parts.has('aliases')) {
    // docs/adr/0022: the create as before it (F: the `phonetic` rows written beside `name`'s, as earlier
    // versions did) against the create as captured (V: name's rows only).
    const withPhonetic: Rewrite = (s) => {
      if (s.kind !== 'version write') return s;
      const m = /INSERT INTO search_string \(rid, resource_type, code, value_norm, value_exact\) SELECT s\.rid, \$\d+::text, u\.\* FROM r s, unnest\(\$(\d+)::text\[\], \$(\d+)::text\[\], \$(\d+)::text\[\]\)/.exec(s.text);
      if (!m) throw new Error('no search_string rows in the version write');
      const [c, n1, n2] = [Number(m[1]) - 1, Number(m[2]) - 1, Number(m[3]) - 1];
      const values = [...s.values];
      const codes = values[c] as string[];
      const names = codes.flatMap((code, i) => (code === 'name' ? [i] : []));
      if (codes.includes('phonetic') || names.length === 0) throw new Error('the captured create is not the one of docs/adr/0022');
      values[c] = [...codes, ...names.map(() => 'phonetic')];
      values[n1] = [...(values[n1] as string[]), ...names.map((i) => (values[n1] as string[])[i]!)];
      values[n2] = [...(values[n2] as string[]), ...names.map((i) => (values[n2] as string[])[i]!)];
      return { text: s.text, values };
    };
    table('before (F, with phonetic rows) vs after (V, without)', [await pairs('create without the phonetic rows', all, undefined, withPhonetic)]);
  }

  if (parts.has('indexes')) {
    const idx = (
      await V.client.query<{ i: string; def: string; con: string | null; t: string }>(
        `SELECT c.relname AS i, pg_get_indexdef(c.oid) AS def, k.conname AS con, t.relname AS t
           FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           LEFT JOIN pg_constraint k ON k.conindid = c.oid AND k.contype IN ('p', 'u')
          WHERE c.relnamespace = $1::regnamespace
            AND t.relname IN ('resource', 'resource_version', 'search_token', 'search_string', 'search_date', 'member_access', 'audit_event')
          ORDER BY t.relname, c.relname`,
        [schemaV],
      )
    ).rows;
    const fks = (
      await V.client.query<{ t: string; c: string; def: string }>(
        `SELECT conrelid::regclass::text AS t, conname AS c, pg_get_constraintdef(oid) AS def FROM pg_constraint
          WHERE contype = 'f' AND connamespace = $1::regnamespace AND conrelid::regclass::text IN ('search_token', 'search_string', 'search_date', 'resource_version', 'member_access')`,
        [schemaV],
      )
    ).rows;
    const rows: Pair[] = [];
    const short = (def: string): string => def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON \S+ /, '').replace(`${schemaV}.`, '');
    for (const i of idx) {
      // The keys the write itself relies on (rid, and (type, id) for create races) stay.
      if (i.i === 'resource_pkey' || i.i === 'resource_type_id_key' || !only.test(`${i.t} ${i.def}`)) continue;
      await V.client.query(i.con ? `ALTER TABLE ${i.t} DROP CONSTRAINT ${i.con}` : `DROP INDEX ${i.i}`);
      rows.push(await pairs(`${i.t} ${i.con ? '(constraint) ' : ''}${short(i.def)}`));
      await V.client.query(i.def);
      if (i.con) await V.client.query(`ALTER TABLE ${i.t} ADD CONSTRAINT ${i.con} ${i.i.endsWith('_pkey') ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${i.i}`);
    }
    for (const fk of fks) {
      if (!only.test(`${fk.t} foreign key`)) continue;
      await V.client.query(`ALTER TABLE ${fk.t} DROP CONSTRAINT ${fk.c}`);
      rows.push(await pairs(`${fk.t} foreign key ${fk.def}`));
      await V.client.query(`ALTER TABLE ${fk.t} ADD CONSTRAINT ${fk.c} ${fk.def}`);
    }
    table('index dropped', rows);
  }

  if (parts.has('fkeys')) {
    // The eight index tables' rid -> resource(rid) foreign keys: present on F, absent on V.
    const tables = ['search_token', 'search_string', 'search_date', 'search_number', 'search_quantity', 'search_reference', 'search_uri', 'search_composite'];
    const fkOf = async (l: Lane, t: string): Promise<string | undefined> =>
      (await l.client.query<{ c: string }>(`SELECT conname AS c FROM pg_constraint WHERE contype = 'f' AND conrelid = $1::regclass`, [`${l.schema}.${t}`])).rows[0]?.c;
    for (const t of tables) {
      if (!(await fkOf(F, t))) await F.client.query(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_rid_fkey FOREIGN KEY (rid) REFERENCES resource (rid) ON DELETE CASCADE`);
      const c = await fkOf(V, t);
      if (c) await V.client.query(`ALTER TABLE ${t} DROP CONSTRAINT ${c}`);
    }
    table('index tables with (F) and without (V) their foreign keys', [await pairs('create without the index foreign keys')]);
  }

  if (parts.has('ids')) {
    // A store already holding rows with random ids (the same ones on both lanes: copies of the replayed
    // rows), then random (F) against time-ordered (V) ids for the new creates.
    // Version 7 ids of past milliseconds (0190... sorts below today's 019a...), random bits from md5.
    const ordered = (seed: string) =>
      `(SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' || substr(r, 7, 12)
          FROM (SELECT '0190' || lpad(to_hex(g), 8, '0') AS h, md5(${seed} || g) AS r) x)`;
    for (const l of [F, V]) {
      const idOf = (seed: string) => (preloadOrdered && l === V ? ordered(seed) : `md5(${seed} || g)::uuid::text`);
      await l.client.query(
        `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content)
         SELECT resource_type, ${idOf("'r'")}, version_id, last_updated, deleted, '{}'
           FROM (SELECT * FROM resource LIMIT 1) r, generate_series(1, $1) g`,
        [preload],
      );
      await l.client.query(
        `INSERT INTO audit_event (id, recorded, type_code, subtype, action, outcome, client_id, organization, entity_refs, patient_refs, content)
         SELECT ${idOf("'a'")}, recorded, type_code, subtype, action, outcome, client_id, organization, entity_refs, patient_refs, '{}'
           FROM (SELECT * FROM audit_event LIMIT 1) a, generate_series(1, $1) g`,
        [preload],
      );
      await l.client.query('ANALYZE resource');
      await l.client.query('ANALYZE audit_event');
      await flushGin(l);
    }
    V.newId = () => timeOrderedUuid();
    for (let i = 0; i < 200; i++) {
      await replay(F, all);
      await replay(V, all);
    }
    table(`random (F) and time-ordered (V) ids, ${preload} rows already in resource and audit_event with ${preloadOrdered ? 'random (F) and time-ordered (V)' : 'random'} ids`, [await pairs('create with a time-ordered id')]);
    V.newId = randomUUID;
  }

  if (parts.has('gin')) {
    const rows: Pair[] = [];
    for (const g of await ginIndexes(V)) {
      if (!only.test(g)) continue;
      await V.client.query(`ALTER INDEX ${g} SET (fastupdate = off)`);
      rows.push(await pairs(`${g} with fastupdate = off`));
      await V.client.query(`ALTER INDEX ${g} SET (fastupdate = on)`);
    }
    table('GIN fastupdate (default on) turned off', rows);
  }

  if (parts.has('wal')) {
    // WAL per create by resource manager, for the F connection's transactions only (their xids).
    await F.client.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect WITH SCHEMA public');
    await F.client.query('CHECKPOINT');
    const xids: string[] = [];
    const lsn = async (): Promise<string> => (await F.client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
    const start = await lsn();
    const walN = Math.min(n, 300);
    for (let i = 0; i < walN; i++) await replay(F, all, undefined, xids);
    const end = await lsn();
    const wal = await F.client.query<{ rm: string; recs: string; bytes: string; fpi: string }>(
      `SELECT resource_manager AS rm, count(*)::text AS recs, sum(record_length)::text AS bytes, sum(fpi_length)::text AS fpi
         FROM public.pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) WHERE xid::text = ANY($3::text[])
        GROUP BY 1 ORDER BY sum(record_length) DESC`,
      [start, end, xids],
    );
    out(`\nWAL of ${walN} creates right after a CHECKPOINT (full-page images included), per create:\n\n| resource manager | records | bytes | of which full-page images |\n|---|---:|---:|---:|\n`);
    let tr = 0;
    let tb = 0;
    for (const r of wal.rows) {
      tr += Number(r.recs);
      tb += Number(r.bytes);
      out(`| ${r.rm} | ${(Number(r.recs) / walN).toFixed(1)} | ${(Number(r.bytes) / walN).toFixed(0)} | ${(Number(r.fpi) / walN).toFixed(0)} |\n`);
    }
    out(`| total | ${(tr / walN).toFixed(1)} | ${(tb / walN).toFixed(0)} | |\n`);
  }
  const load1 = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  out(`\nload at the end ${load1}\n`);
} finally {
  // The server's close closed the pool; the replaying connections drop the scratch schemas.
  await V.client.end();
  await F.client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await F.client.query(`DROP SCHEMA IF EXISTS ${schemaV} CASCADE`).catch(() => undefined);
  await F.client.end();
}
