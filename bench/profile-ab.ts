// CPU per call of Concord profile validation (src/fhir/profiles/validate-profile.ts) of this tree against another
// checkout's, in one process, block by block in alternating order, so a machine shared with other work loads
// both alike. Inputs: the bench import's members that claim a Concord profile (CareTeam, CarePlan,
// ServiceRequest, Consent), each against every profile it claims. Both trees must give the same issues first.
//
//   npx tsx bench/profile-ab.ts --base <other checkout> [--members 200] [--rounds 5]
import { isDeepStrictEqual } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { flags } from './args.js';
import { loadBoth, timeAlternated } from './in-process-ab.js';
import { validationCorpora } from './validation-corpora.js';
import type { profileUrlsOf, validateAgainstProfile } from '../src/fhir/profiles/index.js';

interface Tree {
  profileUrlsOf: typeof profileUrlsOf;
  validateAgainstProfile: typeof validateAgainstProfile;
}

const f = flags(process.argv.slice(2));
const baseDir = f.value('base');
if (!baseDir) throw new Error('--base <directory of the other checkout> is required');
const members = f.num('members', 200, 1, true);
const rounds = f.num('rounds', 5, 2, true);

const trees = await loadBoth<Tree>(baseDir, 'fhir/profiles/index');
const profiled = validationCorpora(members)
  .import.map((b) => JSON.parse(b.toString('utf8')) as Resource)
  .filter((r) => trees.this.profileUrlsOf(r).length > 0);
const validate = (tree: Tree, r: Resource): unknown => tree.profileUrlsOf(r).map((url) => tree.validateAgainstProfile(r, url));

for (const r of profiled) {
  const a = validate(trees.base, r);
  const b = validate(trees.this, r);
  if (!isDeepStrictEqual(a, b)) throw new Error(`different issues for ${JSON.stringify(r).slice(0, 200)}:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
}
process.stdout.write(`same issues from both trees for ${profiled.length} inputs\n`);

timeAlternated({ profiled }, rounds, (tree, r) => {
  validate(trees[tree], r);
});
