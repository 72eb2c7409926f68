// The printable Care Planning and Coordination form in a real browser (Debian's Chromium, headless): the
// page Concord serves renders with its own stylesheet under its strict Content-Security-Policy (the
// pinned style hash must match the style block, or the browser refuses the style and the form prints
// unformatted), hostile text from the member's record stays text, and the page prints to PDF. The
// server listens on 127.0.0.1 only; Chromium is told to use no network beyond it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clean, forMember, seed } from './coordination/support.js';
import { careTeam, ORGS, ROLES, serviceRequest } from '../unit/coordination/builders.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const run = promisify(execFile);
const M = 'browser-form-1';
const HOSTILE = '<script>document.title="owned"</script><img src=x onerror="document.title=1">';

let s: TestServer;
let url = '';
let profileDir = '';

/** Runs headless Chromium against the form page with extra flags; its stderr carries the console log. */
async function chromium(...flags: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(
    CHROMIUM!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-extensions',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No packet beyond loopback: every host but the test server's maps to nowhere.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      '--proxy-server=direct://',
      `--user-data-dir=${profileDir}`,
      '--enable-logging=stderr',
      '--v=0',
      ...flags,
      url,
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
}

describe.skipIf(!CHROMIUM)('$coordination-form in Chromium', () => {
  beforeAll(async () => {
    s = await startTestServer();
    const team = careTeam(`${M}-team`, [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] }], { patient: M });
    await seed(
      s,
      { resourceType: 'Patient', id: M, name: [{ family: HOSTILE, given: ['Ada'] }], birthDate: '1946-05-12' },
      clean(team),
      forMember(serviceRequest(`${M}-pcs`, { code: 'T1019', requester: ROLES.nyRnAtMltcp, category: 'community-ltss', period: { start: '2026-02-01', end: '2030-12-31' } }), M),
    );
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = s.app.server.address() as AddressInfo;
    url = `http://127.0.0.1:${port}/fhir/Patient/${M}/$coordination-form?_format=html`;
    profileDir = await mkdtemp(join(tmpdir(), 'concord-chromium-'));
  }, 120_000);
  afterAll(async () => {
    await s?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  });

  it('renders every section with its stylesheet allowed by the CSP and the hostile name as text', async () => {
    const { stdout: dom, stderr } = await chromium('--dump-dom');
    // The rendered DOM: every section heading, the member's name as text, no element the name tried to add.
    for (const title of ['Member', 'Lead care manager', 'Care team', 'Service split (ASA appendix)', 'Service requests', 'Consents and opt-outs']) {
      expect(dom).toContain(`>${title.replace('&', '&amp;')}<`);
    }
    expect(dom).toContain('&lt;script&gt;document.title="owned"&lt;/script&gt;');
    expect(dom).not.toMatch(/<script[\s>]/i);
    expect(dom).not.toMatch(/<img[\s>]/i);
    expect(dom).toMatch(/<title>[^<]*Care Planning and Coordination form[^<]*<\/title>/);
    // The browser refused nothing: a wrong style hash would log a CSP violation to the console.
    expect(stderr).not.toMatch(/Content Security Policy/i);
  }, 90_000);

  it('prints to a PDF of at least one page', async () => {
    const pdf = join(profileDir, 'form.pdf');
    await chromium(`--print-to-pdf=${pdf}`, '--no-pdf-header-footer');
    const bytes = await readFile(pdf);
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect((bytes.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
