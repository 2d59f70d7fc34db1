import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ConnectionRepository } from '../adapters/connection-repository.js';
import type { EventPublisher } from '../adapters/event-publisher.js';
import { type OutboxEntry, eventsOf, outboxEntriesOf, outboxSeqOf } from '../adapters/outbox.js';
import { TABLE_SCHEMA } from '../core/table-schema.js';

/**
 * The outbox publisher: takes the entries writers left on connection items (`outbox.ts`), puts their events on
 * the bus, runs a connect's follow-up work, and removes the entries. Two ways in, one code path:
 * - the table's stream (on AWS): every write that added an entry arrives within a second, in order per item;
 * - the sweep (a schedule on AWS, a 250 ms loop in local mode, where dynalite has no stream): the `byOutbox` index
 *   lists items whose entries have waited longer than a few minutes (locally: any), which only happens when the
 *   stream consumer is failing.
 * An entry is removed only after its events were accepted by the bus, so a crash anywhere means it is published
 * again, with the same event ids: delivery is at least once, and consumers de-duplicate on `eventId`.
 */

export interface OutboxLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface OutboxPublisherDeps {
  publisher: EventPublisher;
  connections: Pick<ConnectionRepository, 'acknowledgeOutbox' | 'listPendingOutbox'>;
  /** A connect's follow-up work (`followUpConnect`), run after its events are published; it throws to be retried. */
  followUp?: (entry: OutboxEntry) => Promise<void>;
  log: OutboxLog;
  /** Told how many events were put on the bus (for metrics). */
  onPublished?: (events: number) => void;
}

/** A DynamoDB stream record as Lambda delivers it (only the fields used here). */
export interface OutboxStreamRecord {
  eventName?: string | undefined;
  dynamodb?:
    | {
        Keys?: Record<string, unknown> | undefined;
        NewImage?: Record<string, unknown> | undefined;
        OldImage?: Record<string, unknown> | undefined;
        SequenceNumber?: string | undefined;
      }
    | undefined;
}

export interface StreamBatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * Handles one batch of stream records, in order. A record's entries are the ones its write added (in the new image,
 * not the old). At the first record that fails, the batch stops and reports that record's sequence number: Lambda
 * checkpoints everything before it and retries from it (splitting the batch, then sending it to the on-failure
 * destination once the retries are spent).
 */
export async function publishStreamRecords(records: readonly OutboxStreamRecord[], deps: OutboxPublisherDeps): Promise<StreamBatchResult> {
  for (const record of records) {
    const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
    if (!image) continue;
    const before = new Set(outboxEntriesOf(record.dynamodb?.OldImage as Record<string, AttributeValue> | undefined).entries.map((e) => e.eventId));
    const { entries, unreadable } = outboxEntriesOf(image);
    const added = entries.filter((entry) => !before.has(entry.eventId));
    if (added.length === 0 && unreadable.length === 0) continue;
    // Only when this write's entries are all the item holds may the item leave the index with them.
    const ifSeq = added.length === entries.length ? outboxSeqOf(image) : undefined;
    try {
      await deliver(keyOf(image), added, unreadable, ifSeq, deps);
    } catch (error) {
      deps.log.error('Publishing outbox entries failed; the stream retries them', { error, entries: added.length });
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      // Without a sequence number Lambda cannot checkpoint a partial batch: failing the whole batch is the safe answer.
      if (!sequenceNumber) throw error;
      return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
    }
  }
  return { batchItemFailures: [] };
}

export interface SweepOptions {
  /** Entries that waited at least this long (ms) are republished; 0 takes every waiting entry. */
  minAgeMs: number;
  /** Items per run, at most. @default 100 */
  maxItems?: number;
  now: () => number;
  /** Absolute deadline (epoch ms): items not started by then wait for the next run. */
  deadlineMs?: number;
}

export interface SweepSummary {
  /** Items found with entries older than the cut-off. */
  items: number;
  /** Events put on the bus. */
  published: number;
  /** Items whose entries could not be published or followed up (logged; the next run tries again). */
  failed: number;
}

/** Publishes the entries waiting longer than `minAgeMs`: what the stream consumer did not (yet) take. */
export async function sweepOutbox(deps: OutboxPublisherDeps, options: SweepOptions): Promise<SweepSummary> {
  const cutoff = new Date(options.now() - options.minAgeMs).toISOString();
  const items = await deps.connections.listPendingOutbox(cutoff, options.maxItems ?? 100);
  const summary: SweepSummary = { items: items.length, published: 0, failed: 0 };
  for (const item of items) {
    if (options.deadlineMs !== undefined && options.now() >= options.deadlineMs) break;
    const { entries, unreadable } = outboxEntriesOf(item);
    try {
      summary.published += await deliver(keyOf(item), entries, unreadable, outboxSeqOf(item), deps);
    } catch (error) {
      summary.failed++;
      deps.log.error('Publishing outbox entries failed; the next sweep retries them', { error, entries: entries.length });
    }
  }
  return summary;
}

/**
 * One item's entries: publish their events, run the follow-ups, remove them. Throws when publishing or a follow-up
 * fails: nothing is removed, so they are retried.
 * @returns how many events were published
 */
async function deliver(
  key: Record<string, AttributeValue>,
  entries: readonly OutboxEntry[],
  unreadable: readonly string[],
  ifSeq: number | undefined,
  deps: OutboxPublisherDeps,
): Promise<number> {
  const events = entries.flatMap(eventsOf);
  if (events.length > 0) {
    await deps.publisher.publish(events);
    deps.onPublished?.(events.length);
  }
  for (const entry of entries) await deps.followUp?.(entry);
  if (unreadable.length > 0) {
    // Only a bug writes one; it can never become an event, and kept it would be retried forever.
    deps.log.error('Dropped unreadable outbox entries', { attributes: unreadable });
  }
  const attributes = [...entries.flatMap((entry) => entry.attributes), ...unreadable];
  const cleared = await deps.connections.acknowledgeOutbox(key, attributes, ifSeq);
  // Another entry was added since the item was read: remove only these; the item stays in the index for it.
  if (!cleared) await deps.connections.acknowledgeOutbox(key, attributes);
  return events.length;
}

function keyOf(item: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const pk = item[TABLE_SCHEMA.partitionKey];
  if (!pk) throw new Error('An outbox item without its key.');
  return { [TABLE_SCHEMA.partitionKey]: pk };
}
