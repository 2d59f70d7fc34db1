import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { ConnectionEventDetail } from '../../functions/adapters/event-publisher.js';
import { eventsOf, outboxEntriesOf } from '../../functions/adapters/outbox.js';
import { itemKey, TABLE_SCHEMA } from '../../functions/core/table-schema.js';
import { inMemoryServiceTable } from './fakes/dynamodb-table.js';

type Item = Record<string, AttributeValue>;

/**
 * The service table in memory behind the DynamoDB mock: every command the code under test sends reaches the mock
 * (so tests still count calls and inject faults with `ddb.on(...)`), and what is not stubbed otherwise is answered
 * by the unit tests' one in-memory table (`fakes/dynamodb-table.ts`: dynalite's engine, in-process), with DynamoDB's
 * own conditions, update expressions and indexes; transactions of puts are run here. Tests then assert on
 * what is stored, not on how a write was spelled.
 */
export interface MemoryTable {
  /** The item stored under `pk`, or `undefined`. */
  get(pk: string): Promise<Item | undefined>;
  /** Stores items as they are (a test's starting state). */
  put(...items: Item[]): Promise<void>;
  /** Runs `write` (another writer's, say) just before the next write of the code under test reaches the table. */
  beforeNextWrite(write: () => Promise<unknown>): void;
  /** Every item, in no particular order. */
  items(): Promise<Item[]>;
  /**
   * The lifecycle events the outbox holds or held, in the order the writes stored them, as the outbox publisher
   * derives them (a published entry is removed from its item but stays here).
   */
  outboxEvents(): ConnectionEventDetail[];
  /** Empties the table and forgets the events, then answers the mock's DynamoDB commands again (after `ddb.reset()`). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const FORWARDED = [GetItemCommand, PutItemCommand, UpdateItemCommand, DeleteItemCommand, QueryCommand];
const WRITES = new Set<unknown>([PutItemCommand, UpdateItemCommand]);

/** Creates the table in memory and answers `ddb`'s commands from it. */
export async function memoryTable(ddb: AwsClientStub<DynamoDBClient>, tableName: string): Promise<MemoryTable> {
  const { send } = await inMemoryServiceTable(tableName);
  const answerFromTable = () => {
    // Transactions of conditional puts, all or nothing, here: dynalite has none.
    ddb.on(TransactWriteItemsCommand).callsFake(async (input: TransactWriteItemsCommandInput) => {
      const puts = (input.TransactItems ?? []).map((item) => item.Put);
      if (puts.some((put) => put === undefined)) throw new Error('The in-memory table runs transactions of puts only.');
      const before = await Promise.all(puts.map((put) => get(put?.Item?.[PK]?.S ?? '')));
      const reasons = await Promise.all(
        puts.map((put) =>
          send(new PutItemCommand(put as PutItemCommandInput)).then(
            () => ({ Code: 'None' }),
            (error: unknown) => {
              if (error instanceof ConditionalCheckFailedException) return { Code: 'ConditionalCheckFailed' };
              throw error;
            },
          ),
        ),
      );
      if (reasons.every((reason) => reason.Code === 'None')) return noteEntries(writtenKeys(input)).then(() => ({}));
      await Promise.all(
        puts.map((put, i) => {
          const Item = before[i];
          const Key = { [PK]: put?.Item?.[PK] as AttributeValue };
          return send(Item ? new PutItemCommand({ TableName: tableName, Item }) : new DeleteItemCommand({ TableName: tableName, Key }));
        }),
      );
      throw new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
    });
    for (const Command of FORWARDED) {
      ddb.on(Command as never).callsFake(async (input: Record<string, unknown>) => {
        if (WRITES.has(Command)) await interleaved.shift()?.();
        const output = await send<object>(new (Command as new (input: object) => object)(input));
        if (WRITES.has(Command)) await noteEntries(writtenKeys(input));
        return output;
      });
    }
  };
  const get = async (pk: string) =>
    (await send<{ Item?: Item }>(new GetItemCommand({ TableName: tableName, Key: itemKey(pk), ConsistentRead: true }))).Item;

  // Outbox entries in the order writes stored them: after each write, the entries its item holds that were not seen.
  const seen = new Set<string>();
  const interleaved: Array<() => Promise<unknown>> = [];
  const events: ConnectionEventDetail[] = [];
  const noteEntries = async (pks: string[]) => {
    for (const pk of pks) {
      for (const entry of outboxEntriesOf(await get(pk)).entries) {
        if (seen.has(entry.eventId)) continue;
        seen.add(entry.eventId);
        events.push(...eventsOf(entry));
      }
    }
  };

  answerFromTable();
  const all = async () => (await send<{ Items?: Item[] }>(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ?? [];
  return {
    get,
    put: async (...items) => {
      for (const Item of items) await send(new PutItemCommand({ TableName: tableName, Item }));
    },
    beforeNextWrite: (write) => {
      interleaved.push(write);
    },
    items: all,
    outboxEvents: () => [...events],
    reset: async () => {
      for (const item of await all()) await send(new DeleteItemCommand({ TableName: tableName, Key: { [PK]: item[PK] as AttributeValue } }));
      seen.clear();
      interleaved.length = 0;
      events.length = 0;
      answerFromTable();
    },
    // Nothing to stop: the table lives in this process's memory and goes with the test file.
    close: async () => {},
  };
}

const PK = TABLE_SCHEMA.partitionKey;

/** The partition keys a write touched. */
function writtenKeys(input: { Key?: Item; Item?: Item; TransactItems?: TransactWriteItemsCommandInput['TransactItems'] }): string[] {
  const parts = input.TransactItems ? input.TransactItems.flatMap((item) => Object.values(item) as Array<{ Key?: Item; Item?: Item }>) : [input];
  return parts.map((part) => (part.Key ?? part.Item)?.[PK]?.S).filter((pk): pk is string => pk !== undefined);
}
