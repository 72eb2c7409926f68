// Worker thread entry (piscina): loads the R4 definitions and Concord profiles once per thread, then runs
// the write checks for each task it is given. Pure FHIR logic: no HTTP, no SQL.
import { loadDefinitions } from './definitions.js';
import { runWriteChecks, type WriteCheckResult, type WriteCheckTask } from './write-checks.js';

loadDefinitions();

export default function writeChecks(task: WriteCheckTask): WriteCheckResult {
  return runWriteChecks(task);
}
