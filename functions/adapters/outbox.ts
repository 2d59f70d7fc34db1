import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { CONNECTION_STATUSES, RELYING } from '../core/connection-status.js';
import { CONNECTION_EVENT_TYPES, type ConnectionEventDetail } from '../../client/events.js';
import { TABLE_SCHEMA } from '../core/table-schema.js';

/**
 * The transactional outbox. A write that changes a connection record's status or credential also writes, in the
 * same conditional UpdateItem, an outbox entry on that record's own item: the event the change causes. Either both
 * are stored or neither is, so no transition can lose its event and no event exists without its transition. The
 * entry stays on the item until the publisher (`outbox-publisher.ts`) has put its event(s) on the bus; the table's
 * stream brings it there within a second, and a scheduled sweep republishes what stays longer (a broken consumer).
 *
 * On the item, an entry is one attribute `outbox_<eventId>` (its JSON) plus, for what only the item knows at write
 * time (the Zoom ids of a record whose status changes, what a connect replaced), `outbox_<eventId>~<field>`
 * attributes copied from the item as it was before the write (`if_not_exists(attribute, NULL)`: an update reads
 * the old item on the right-hand side). `outboxPending`/`outboxSince` put the item in the sparse `byOutbox` index
 * while any entry waits; `outboxSeq` counts the writes that added one, so removing the index keys can be made
 * conditional on no entry having been added since.
 */

const ENTRY_PREFIX = 'outbox_';
const CAPTURE_SEPARATOR = '~';
const SEQ = 'outboxSeq';
const { partitionKey: PENDING, sortKey: SINCE } = TABLE_SCHEMA.outboxIndex;
/** The one value of the index's partition key: the volume of waiting entries is tiny. */
export const OUTBOX_PENDING = 'pending';

const StoredEntrySchema = z.object({
  eventId: z.string().check(z.minLength(1)),
  type: z.enum(CONNECTION_EVENT_TYPES),
  userId: z.string(),
  status: z.enum(CONNECTION_STATUSES),
  recallCredentialId: z.string(),
  zoomAccountId: z.optional(z.nullable(z.string())),
  zoomUserId: z.optional(z.nullable(z.string())),
  previousRecallCredentialId: z.optional(z.string()),
  occurredAt: z.string(),
  correlationId: z.optional(z.string()),
  /** For the follow-up work of a `connected` entry (moving the identity's other records): not in the event. */
  zoomIdentity: z.optional(z.nullable(z.string())),
  oauthAppId: z.optional(z.string()),
});
type StoredEntry = z.infer<typeof StoredEntrySchema>;

/** Attributes of the item as it was before the write that an entry copies, by the entry field they fill. */
const CAPTURABLE = {
  zoomAccountId: 'zoomAccountId',
  zoomUserId: 'zoomUserId',
  /** A connect: the credential, status and identity the record had, to tell whether it replaced one. */
  priorRecallCredentialId: 'recallCredentialId',
  priorStatus: 'status',
  priorZoomIdentity: TABLE_SCHEMA.zoomIdentityIndex.partitionKey,
} as const;
export type CapturedField = keyof typeof CAPTURABLE;

/** What a writer says about the event its write causes. */
export type OutboxEvent = Omit<StoredEntry, 'eventId'>;

/** An entry as read back from an item. */
export interface OutboxEntry extends StoredEntry {
  priorRecallCredentialId?: string | null;
  priorStatus?: string | null;
  priorZoomIdentity?: string | null;
  /** The item attributes that hold it, removed together once it is published. */
  attributes: string[];
}

/** The outbox's part of an UpdateItem: clauses to add to the writer's own, and their placeholders. */
export interface OutboxWrite {
  /** `SET` actions, comma-joined, without the keyword. */
  set: string;
  /** `ADD` actions, without the keyword. */
  add: string;
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
  eventId: string;
}

/**
 * The outbox entry of one event, to be written in the same UpdateItem as the change it describes.
 * @param event - the event as the writer knows it
 * @param capture - fields to copy from the item as it was before the write, instead of from `event`
 * @param eventId - the event's stable id; a fresh UUID by default
 */
export function outboxWrite(event: OutboxEvent, capture: readonly CapturedField[] = [], eventId: string = randomUUID()): OutboxWrite {
  const [[attribute, value]] = Object.entries(entryAttribute({ ...event, eventId })) as [[string, AttributeValue]];
  const names: Record<string, string> = { '#obEntry': attribute, '#obPending': PENDING, '#obSince': SINCE, '#obSeq': SEQ };
  const values: Record<string, AttributeValue> = {
    ':obEntry': value,
    ':obPending': { S: OUTBOX_PENDING },
    ':obSince': { S: event.occurredAt },
    ':obOne': { N: '1' },
  };
  const set = ['#obEntry = :obEntry', '#obPending = :obPending', '#obSince = if_not_exists(#obSince, :obSince)'];
  capture.forEach((field, i) => {
    names[`#obCap${i}`] = `${attribute}${CAPTURE_SEPARATOR}${field}`;
    names[`#obSrc${i}`] = CAPTURABLE[field];
    values[':obNull'] = { NULL: true };
    set.push(`#obCap${i} = if_not_exists(#obSrc${i}, :obNull)`);
  });
  return { set: set.join(', '), add: '#obSeq :obOne', names, values, eventId };
}

/** The attribute that holds one entry on its item: `outbox_<eventId>`, the entry's JSON. */
function entryAttribute(entry: StoredEntry): Record<string, AttributeValue> {
  return { [`${ENTRY_PREFIX}${entry.eventId}`]: { S: JSON.stringify(entry) } };
}

/**
 * The outbox attributes of an item whose `entries` wait to be published, as the writes that added them leave it
 * (`outboxEntriesOf` reads them back): each entry, the index keys (waiting since the oldest), and the write count.
 * Copies a write makes of the item as it was (`~priorStatus`, say) are not among them.
 * @param seq - how many writes added an entry (`outboxSeq`); the number of entries by default
 */
export function outboxItem(entries: ReadonlyArray<OutboxEvent & { eventId: string }>, seq: number = entries.length): Record<string, AttributeValue> {
  const since = entries.map((entry) => entry.occurredAt).sort()[0];
  return {
    ...Object.assign({}, ...entries.map(entryAttribute)),
    ...(since === undefined ? {} : { [PENDING]: { S: OUTBOX_PENDING }, [SINCE]: { S: since } }),
    [SEQ]: { N: String(seq) },
  };
}

/**
 * Joins a writer's update with its outbox entry into one UpdateItem's expression, names and values.
 * @param update - the writer's `SET` actions (and `REMOVE` ones), names and values
 * @param outbox - from `outboxWrite`
 */
export function withOutbox(
  update: { set: readonly string[]; remove?: readonly string[]; names: Record<string, string>; values: Record<string, AttributeValue> },
  outbox: OutboxWrite,
): { UpdateExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, AttributeValue> } {
  const remove = update.remove && update.remove.length > 0 ? ` REMOVE ${update.remove.join(', ')}` : '';
  return {
    UpdateExpression: `SET ${[...update.set, outbox.set].join(', ')}${remove} ADD ${outbox.add}`,
    ExpressionAttributeNames: { ...update.names, ...outbox.names },
    ExpressionAttributeValues: { ...update.values, ...outbox.values },
  };
}

/** Reads the outbox entries on an item (a table item, a stream image or an index item). Unreadable ones are listed apart. */
export function outboxEntriesOf(item: Record<string, AttributeValue> | undefined): { entries: OutboxEntry[]; unreadable: string[] } {
  const entries: OutboxEntry[] = [];
  const unreadable: string[] = [];
  if (!item) return { entries, unreadable };
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(ENTRY_PREFIX) || name.includes(CAPTURE_SEPARATOR)) continue;
    const stored = parseStored(value.S);
    if (!stored) {
      unreadable.push(name);
      continue;
    }
    const entry: OutboxEntry = { ...stored, attributes: [name] };
    for (const field of Object.keys(CAPTURABLE) as CapturedField[]) {
      const captureName = `${name}${CAPTURE_SEPARATOR}${field}`;
      const captured = item[captureName];
      if (!captured) continue;
      entry.attributes.push(captureName);
      entry[field] = captured.S ?? null;
    }
    entries.push(entry);
  }
  // Oldest first: a consumer that applies events in arrival order sees one record's changes in their order.
  entries.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
  return { entries, unreadable };
}

function parseStored(json: string | undefined): StoredEntry | undefined {
  if (json === undefined) return undefined;
  try {
    const parsed = StoredEntrySchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The item's `outboxSeq` (0 when it has none). */
export const outboxSeqOf = (item: Record<string, AttributeValue> | undefined): number => Number(item?.[SEQ]?.N ?? 0);

/**
 * The events one entry stands for. A `connected` entry also stands for `replaced` when the record relied on another
 * credential before (the product may have stored that id); its id is derived from the entry's, so it is as stable.
 */
export function eventsOf(entry: OutboxEntry): ConnectionEventDetail[] {
  const detail: ConnectionEventDetail = {
    schemaVersion: 1,
    eventId: entry.eventId,
    type: entry.type,
    userId: entry.userId,
    status: entry.status,
    recallCredentialId: entry.recallCredentialId,
    zoomAccountId: entry.zoomAccountId ?? null,
    zoomUserId: entry.zoomUserId ?? null,
    occurredAt: entry.occurredAt,
    ...(entry.previousRecallCredentialId ? { previousRecallCredentialId: entry.previousRecallCredentialId } : {}),
    ...(entry.correlationId ? { correlationId: entry.correlationId } : {}),
  };
  const events = [detail];
  if (entry.type === 'connected' && replacedCredential(entry)) {
    events.push({
      ...detail,
      eventId: `${entry.eventId}:replaced`,
      type: 'replaced',
      previousRecallCredentialId: entry.priorRecallCredentialId as string,
    });
  }
  return events;
}

/** A connect replaced the record's credential while the record still relied on it. */
function replacedCredential(entry: OutboxEntry): boolean {
  return (
    !!entry.priorRecallCredentialId &&
    entry.priorRecallCredentialId !== entry.recallCredentialId &&
    RELYING.has(entry.priorStatus as never)
  );
}

/**
 * The UpdateItem parts that remove published entries. With `ifSeq`, also the index keys, on the condition that no
 * entry was added since the item was read (`outboxSeq` unchanged); without it, the entries only.
 */
export function outboxAck(
  attributes: readonly string[],
  ifSeq?: number,
): {
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  const names: Record<string, string> = {};
  const removed = attributes.map((attribute, i) => {
    names[`#a${i}`] = attribute;
    return `#a${i}`;
  });
  if (ifSeq === undefined) return { UpdateExpression: `REMOVE ${removed.join(', ')}`, ExpressionAttributeNames: names };
  names['#pending'] = PENDING;
  names['#since'] = SINCE;
  names['#seq'] = SEQ;
  return {
    UpdateExpression: `REMOVE ${[...removed, '#pending', '#since'].join(', ')}`,
    // An item written before any entry (no outboxSeq) never has entries to acknowledge.
    ConditionExpression: '#seq = :seq',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':seq': { N: String(ifSeq) } },
  };
}
