import { EventBridgePublisher } from '../../adapters/event-publisher.js';
import { count } from '../../adapters/metrics.js';
import { followUpConnect } from '../../connect/credential-sharing.js';
import { requireEventBusName } from '../../core/config.js';
import { logger } from '../../core/logger.js';
import type { OutboxPublisherDeps } from '../../lifecycle/outbox-publisher.js';
import { storedServices } from './stored-services.js';

/**
 * The outbox publisher's composition root: the stored services (stored-services.ts) and the lifecycle bus, which
 * only this function may put events on (so no other bundle carries the EventBridge client). Without the bus the
 * cold start fails on purpose; the entries stay in the table meanwhile: nothing is lost while it cannot run.
 */
export function outboxServices(): { deps: OutboxPublisherDeps; sweepMinAgeMs: number } {
  const { config, connections, recall, lock } = storedServices();
  const busName = requireEventBusName(config);
  return {
    deps: {
      publisher: new EventBridgePublisher(busName),
      connections,
      followUp: (entry) => followUpConnect(entry, { connections, recall, lock, now: () => Date.now(), log: logger }),
      log: logger,
      onPublished: (events) => count('EventsPublished', events),
    },
    sweepMinAgeMs: config.outboxSweepMinAgeSeconds * 1000,
  };
}
