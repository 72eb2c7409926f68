// Standard Webhooks signatures: v1,base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)). Signing the id
// and timestamp with the body lets a receiver refuse a replayed or re-dated delivery.
import { createHmac } from 'node:crypto';
import { secretKey } from './subscription-config.js';

export function webhookSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
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
