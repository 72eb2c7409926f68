// PostgreSQL errors that only client input can cause. src/fhir refuses such input before any SQL
// (NUL characters, oversized searches); this is the defensive second line, so that input the FHIR
// layer did not foresee still answers 400 with an OperationOutcome instead of a 500.
import { FhirError, issue } from '../fhir/outcome.js';
import { sqlStateOf } from './database.js';

const INVALID_INPUT: Record<string, string> = {
  '22021': 'contains a character the database cannot store (such as NUL)', // character_not_in_repertoire
  '22P05': 'contains a character the database cannot store (such as \\u0000)', // untranslatable_character
};

const TOO_COSTLY: Record<string, string> = {
  '54000': 'exceeds a database limit', // program_limit_exceeded (e.g. an index row too large)
  '54001': 'is too complex for the database', // statement_too_complex
  '54011': 'needs too many columns', // too_many_columns
  '54023': 'needs too many arguments', // too_many_arguments
};

/** The client error a database error stands for, or the error itself when it is not one. */
export function asClientFault(err: unknown): unknown {
  const state = sqlStateOf(err);
  if (state === undefined) return err;
  const invalid = INVALID_INPUT[state];
  if (invalid) return new FhirError(400, issue('invalid', `The request ${invalid}`));
  const costly = TOO_COSTLY[state];
  if (costly) return new FhirError(400, issue('too-costly', `The request ${costly}`));
  return err;
}

/** Awaits p, turning client-caused database errors into 400 FhirErrors. */
export async function mapClientFaults<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw asClientFault(err);
  }
}
