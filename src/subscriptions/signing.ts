// Standard Webhooks signatures: v1,base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)). Signing the id
// and timestamp with the body lets a receiver refuse a replayed or re-dated delivery.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { secretKey } from './subscription-config.js';

// Every POST of a Subscription signs with the same secret: its key is decoded and imported once, not per
// POST (a third of the HMAC's cost for a ~4 KB Bundle, bench/subscriptions-node.ts). Bounded: a server
// holds a few thousand Subscriptions at most; past the bound the map starts again.
const MAX_KEYS = 4096;
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(secretKey(secret));
    keys.set(secret, key);
  }
  return key;
}

export function webhookSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  // The same bytes as one update of `${id}.${timestamp}.${body}`, without copying the body into a new string.
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one delivery attempt (the timestamp is the attempt's). */
export function webhookHeaders(secret: string | undefined, id: string, body: string, now: Date): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    ...(secret ? { 'webhook-signature': webhookSignature(secret, id, timestamp, body) } : {}),
  };
}
