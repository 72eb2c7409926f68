// The outbound guard decides where Concord may connect for client-supplied URLs. Resolution and the
// connect step are injected and recorded: no packet leaves this machine.
import { describe, expect, it } from 'vitest';
import { isPublicAddress, OutboundGuard, OutboundRefused, type ConnectTarget, type ResolvedAddress } from '../../src/net/outbound-guard.js';

function recording(addresses: ResolvedAddress[], answer = { status: 200, body: '{"keys":[]}' }, allowedHosts: string[] = []) {
  const connects: ConnectTarget[] = [];
  const resolved: string[] = [];
  const guard = new OutboundGuard({
    allowedHosts,
    resolver: (host) => {
      resolved.push(host);
      return Promise.resolve(addresses);
    },
    connector: (target) => {
      connects.push(target);
      return Promise.resolve(answer);
    },
  });
  return { guard, connects, resolved };
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

describe('outbound guard', () => {
  it('connects to the checked public address, keeping the host name for TLS', async () => {
    const { guard, connects, resolved } = recording([v4('93.184.216.34')]);
    const res = await guard.get('https://keys.example.org/jwks.json');
    expect(res.status).toBe(200);
    expect(resolved).toEqual(['keys.example.org']);
    expect(connects).toHaveLength(1);
    expect(connects[0]).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(connects[0]!.url.hostname).toBe('keys.example.org');
  });

  it.each([
    ['loopback', [v4('127.0.0.1')]],
    ['private', [v4('10.1.2.3')]],
    ['metadata / link-local', [v4('169.254.169.254')]],
    ['one private among public addresses', [v4('93.184.216.34'), v4('192.168.1.10')]],
    ['IPv6 loopback', [v6('::1')]],
    ['IPv6 unique-local (cloud metadata)', [v6('fd00:ec2::254')]],
    ['IPv6 link-local', [v6('fe80::1')]],
    ['IPv4-mapped loopback', [v6('::ffff:127.0.0.1')]],
    ['IPv4-mapped metadata in hex', [v6('::ffff:a9fe:a9fe')]],
    ['carrier-grade NAT', [v4('100.64.0.1')]],
  ])('refuses a host resolving to %s without connecting', async (_name, addresses) => {
    const { guard, connects } = recording(addresses);
    await expect(guard.get('https://keys.example.org/jwks.json')).rejects.toBeInstanceOf(OutboundRefused);
    expect(connects).toHaveLength(0);
  });

  it('refuses literal private addresses, http, credentials in the URL', async () => {
    const { guard, connects } = recording([v4('93.184.216.34')]);
    for (const url of ['https://169.254.169.254/latest/meta-data', 'https://[::1]/x', 'http://keys.example.org/jwks.json', 'https://u:p@keys.example.org/x', 'file:///etc/passwd']) {
      await expect(guard.get(url), url).rejects.toBeInstanceOf(OutboundRefused);
    }
    expect(connects).toHaveLength(0);
  });

  it('follows no redirect', async () => {
    const { guard, connects } = recording([v4('93.184.216.34')], { status: 302, body: '' });
    await expect(guard.get('https://keys.example.org/jwks.json')).rejects.toThrow(/redirects are not followed/);
    expect(connects).toHaveLength(1);
  });

  it('lets the operator allow-list a host for http and any address', async () => {
    const { guard, connects } = recording([v4('127.0.0.1')], undefined, ['keys.internal:8443']);
    await guard.get('http://keys.internal:8443/jwks.json');
    expect(connects[0]).toMatchObject({ address: '127.0.0.1' });
    await expect(guard.get('http://keys.internal:9999/jwks.json')).rejects.toBeInstanceOf(OutboundRefused);
  });

  it('classifies addresses', () => {
    expect(isPublicAddress('8.8.8.8')).toBe(true);
    expect(isPublicAddress('2606:4700:4700::1111')).toBe(true);
    for (const a of ['0.0.0.0', '172.16.0.1', '172.31.255.255', '224.0.0.1', '255.255.255.255', '::', 'fc00::1', 'ff02::1', '::ffff:10.0.0.1', 'not-an-ip']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });
});
