// The SQL floor of a create (bench/rest-core.ts --sql-floor): the statements one Concord create sends to
// PostgreSQL, captured once, then replayed per request from a bare fastify route with fresh ids. The
// route does none of Concord's Node work (no FHIR parse, validation, index extraction, statement
// building, AuditEvent building), and sends each transaction's statements all at once behind BEGIN with
// COMMIT behind them (one round trip), which is at most what Concord sends. So its rate is what the
// create's PostgreSQL work alone allows beside the same HTTP route: an upper bound for any create that
// keeps the same guarantees (the version, its index rows and its AuditEvent in one durable transaction).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../src/storage/database.js';
import { isBackground, watchStatements } from './statement-counter.js';

interface Statement {
  text: string;
  /** The captured values, with each string holding an id compiled into pieces (see compile). */
  values: unknown[];
  prepare: boolean;
}

/** Statements in order; a transaction's statements are grouped. */
export type Capture = Array<{ transaction: Statement[] } | { single: Statement }>;

const UUID = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/;

// The ids are found once, at capture, so that a replay only joins pieces: the floor route should carry
// as little work of its own as it can.
/** A string holding ids: literal pieces at even indices, ids at odd ones. */
class WithIds {
  constructor(readonly pieces: string[]) {}
}
/** An array with ids somewhere inside. */
class ArrayWithIds {
  constructor(readonly items: unknown[]) {}
}

function compile(v: unknown): unknown {
  if (typeof v === 'string') return UUID.test(v) ? new WithIds(v.split(UUID)) : v;
  if (!Array.isArray(v)) return v;
  const items = v.map(compile);
  return items.some((x) => x instanceof WithIds || x instanceof ArrayWithIds) ? new ArrayWithIds(items) : v;
}

/** Records the statements the server sends to PostgreSQL while `act` runs (background ones left out). */
async function captureStatements(act: () => Promise<void>): Promise<Capture> {
  const capture: Capture = [];
  let open: Statement[] | undefined;
  await watchStatements(({ text, values, named }) => {
    const head = text.trimStart().toUpperCase();
    if (isBackground(text) || head.startsWith('DEALLOCATE')) return; // not part of the request
    if (head.startsWith('BEGIN')) {
      open = [];
      capture.push({ transaction: open });
    } else if (head.startsWith('COMMIT') || head.startsWith('ROLLBACK')) {
      open = undefined;
    } else {
      const statement = { text, values: (values ?? []).map(compile), prepare: named };
      if (open) open.push(statement);
      else capture.push({ single: statement });
    }
  }, act);
  return capture;
}

/**
 * The statements of one create, as one transaction: `act` (repeatable) is captured again while the capture
 * holds anything else. A background statement this filter cannot tell from a request's (the Subscription
 * dispatcher's poll, an import job's lease, each at most once a second) may land in the window; it must
 * not be replayed as part of the create.
 */
export async function captureOneTransaction(act: () => Promise<void>, attempts = 5): Promise<Capture> {
  for (let i = 1; ; i++) {
    const capture = await captureStatements(act);
    if ((capture.length === 1 && 'transaction' in capture[0]!) || i >= attempts) return capture;
  }
}

/** The values with every id in them (a UUID, wherever it appears in a string) replaced by a fresh one. */
function withFreshIds(values: unknown[], fresh: Map<string, string>): unknown[] {
  const idFor = (id: string): string => {
    let next = fresh.get(id);
    if (next === undefined) fresh.set(id, (next = randomUUID()));
    return next;
  };
  const fill = (v: unknown): unknown => {
    if (v instanceof WithIds) return v.pieces.map((piece, i) => (i % 2 === 1 ? idFor(piece) : piece)).join('');
    if (v instanceof ArrayWithIds) return v.items.map(fill);
    return v;
  };
  return values.map(fill);
}

/** Runs the captured statements once, with fresh ids. */
export async function replay(db: Database, capture: Capture): Promise<void> {
  const fresh = new Map<string, string>();
  for (const step of capture) {
    if ('single' in step) {
      await db.query(step.single.text, withFreshIds(step.single.values, fresh), { prepare: step.single.prepare });
      continue;
    }
    // Every statement is sent without waiting (the transaction waits for them before COMMIT's answer).
    await db.transaction((tx) => {
      for (const s of step.transaction) tx.commitsOnlyAfter(tx.query(s.text, withFreshIds(s.values, fresh), { prepare: s.prepare }));
      return Promise.resolve();
    });
  }
}

/** The capture without its AuditEvent insert: what the version and its index rows alone cost. */
export function withoutAudit(capture: Capture): Capture {
  const kept = (s: Statement): boolean => !/^\s*INSERT INTO audit_event\b/i.test(s.text);
  return capture.flatMap((step): Capture => ('single' in step ? (kept(step.single) ? [step] : []) : [{ transaction: step.transaction.filter(kept) }]));
}

/**
 * POST /sql/Patient: parses the body as the bare route does, replays the create's SQL, answers 201 with
 * the body; POST /sql-version/Patient the same without the AuditEvent insert.
 */
export function sqlFloorRoutes(app: FastifyInstance, db: Database, capture: Capture): void {
  let n = 0;
  const route = (path: string, statements: Capture): void => {
    app.post(path, async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      await replay(db, statements);
      return reply.code(201).send({ ...body, id: `sql-${++n}`, meta: { versionId: '1', lastUpdated: new Date().toISOString() } });
    });
  };
  route('/sql/Patient', capture);
  route('/sql-version/Patient', withoutAudit(capture));
}

/** A one-line summary of what was captured (statement heads), for the report. */
export function describeCapture(capture: Capture): string {
  const head = (s: Statement): string => s.text.replace(/\s+/g, ' ').trim().slice(0, 40);
  return capture
    .map((step) => ('single' in step ? head(step.single) : `BEGIN; ${step.transaction.map(head).join('; ')}; COMMIT`))
    .join(' | ');
}
