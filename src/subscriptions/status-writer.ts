// The server's own changes of Subscription.status (requested -> active after the handshake, -> error
// with Subscription.error when the handshake fails or the retry budget is spent), written as new
// versions of the Subscription so reads, history and the registration all agree.
import type { Subscription } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcome.js';
import type { ResourceService } from '../fhir/resource-service.js';
import type { SubscriptionState } from './subscription-config.js';

const ATTEMPTS = 5;

export function subscriptionStatusWriter(service: ResourceService): (id: string, status: SubscriptionState, error?: string) => Promise<void> {
  return async (id, status, error) => {
    for (let attempt = 1; ; attempt++) {
      let current;
      try {
        current = await service.read('Subscription', id);
      } catch (err) {
        if (err instanceof FhirError && (err.status === 404 || err.status === 410)) return; // deleted meanwhile
        throw err;
      }
      const sub = JSON.parse(current.content!) as Subscription;
      // A client who switched it off (or asked again) in the meantime decides.
      if (sub.status === 'off' || (status === 'active' && sub.status !== 'requested')) return;
      const { error: _old, ...rest } = sub;
      const next: Subscription = { ...rest, status, ...(error ? { error } : {}) };
      try {
        await service.update('Subscription', id, next, { ifMatch: current.versionId, asServer: true });
        return;
      } catch (err) {
        // A concurrent client update: read again and decide again.
        if (err instanceof FhirError && err.status === 412 && attempt < ATTEMPTS) continue;
        throw err;
      }
    }
  };
}
