// The Standard Webhooks signature with the key imported once per secret (signing.ts) is the same as the
// scheme's definition computed from scratch, verifies with the independent `standardwebhooks` package,
// and never signs one Subscription's POST with another's key.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { webhookHeaders, webhookSignature } from '../../src/subscriptions/signing.js';

const WHSEC_A = `whsec_${Buffer.from('a'.repeat(32)).toString('base64')}`;
const WHSEC_B = `whsec_${Buffer.from('b'.repeat(32)).toString('base64')}`;
const PLAIN = 'a plain-text secret of enough characters';

/** The scheme's definition: base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed by the decoded secret. */
function reference(secret: string, id: string, timestamp: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

describe('webhook signatures', () => {
  const body = JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: [{ fullUrl: 'urn:uuid:x', note: 'ünïcode ✓' }] });

  it('equal the definition, call after call and secret after secret (the key cache never mixes secrets)', () => {
    for (let round = 0; round < 3; round++) {
      for (const secret of [WHSEC_A, WHSEC_B, PLAIN]) {
        for (const [id, ts] of [['s1-1', 1_700_000_000], ['s1-2-14', 1_700_000_001]] as const) {
          expect(webhookSignature(secret, id, ts, body)).toBe(reference(secret, id, ts, body));
        }
      }
    }
    expect(webhookSignature(WHSEC_A, 'x', 1, body)).not.toBe(webhookSignature(WHSEC_B, 'x', 1, body));
  });

  it('verify with the independent implementation; a tampered body, id or timestamp, or another secret, fails', () => {
    const now = new Date();
    for (const secret of [WHSEC_A, WHSEC_B]) {
      const headers = webhookHeaders(secret, 'sub-1-3', body, now);
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(() => new Webhook(secret).verify(body.replace('history', 'batch'), headers)).toThrow();
      expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'sub-1-4' })).toThrow();
      expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).toThrow();
      expect(() => new Webhook(secret === WHSEC_A ? WHSEC_B : WHSEC_A).verify(body, headers)).toThrow();
    }
  });

  it('without a secret: id and timestamp, no signature', () => {
    expect(webhookHeaders(undefined, 'sub-1', body, new Date(1_700_000_000_999))).toEqual({ 'webhook-id': 'sub-1', 'webhook-timestamp': '1700000000' });
  });
});
