import { createRequire } from 'node:module';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { serviceTableDefinition } from '../../../local/local-table.js';

/*
 * The service table in memory for unit tests: DynamoDB's own expression semantics (conditions, updates, indexes) as
 * dynalite implements them, called in-process behind `aws-sdk-client-mock` instead of over HTTP. A repository built
 * on the client this returns runs its real conditional writes, so a fake built on it cannot drift from them.
 */

type Callback = (error: DynaliteError | null, data?: unknown) => void;
interface DynaliteError extends Error {
  statusCode?: number;
  body?: { __type?: string; message?: string; Message?: string };
}
interface Dynalite {
  db: { create(options: object): unknown };
  validations: {
    checkTypes(data: unknown, types: unknown): unknown;
    checkValidations(data: unknown, types: unknown, custom: unknown, store: unknown): void;
  };
  action(name: string): { run: (store: unknown, data: unknown, cb: Callback) => void; types: unknown; custom: unknown };
}

const require = createRequire(import.meta.url);
const dynalite: Dynalite = {
  db: require('dynalite/db/index.js') as Dynalite['db'],
  validations: require('dynalite/validations/index.js') as Dynalite['validations'],
  action(name) {
    const validation = require(`dynalite/validations/${name}.js`) as { types: unknown; custom: unknown };
    return { run: require(`dynalite/actions/${name}.js`) as ReturnType<Dynalite['action']>['run'], ...validation };
  },
};

const COMMANDS = {
  getItem: GetItemCommand,
  putItem: PutItemCommand,
  updateItem: UpdateItemCommand,
  deleteItem: DeleteItemCommand,
  query: QueryCommand,
  scan: ScanCommand,
} as const;

export interface InMemoryTable {
  /** A DynamoDB client of its own whose item and query calls the in-memory table answers. */
  client: DynamoDBClient;
  tableName: string;
  /** Runs one item or query command against the table directly, past any mock (the SDK's output shape). */
  send<T>(command: object): Promise<T>;
}

/** Calls one dynalite action as its HTTP handler would: types, validation (which parses expressions), the action. */
function call(store: unknown, name: string, input: object): Promise<unknown> {
  const action = dynalite.action(name);
  return new Promise((resolve, reject) => {
    const fail = (error: DynaliteError) => reject(serviceError(error));
    try {
      // The SDK's inputs are the wire JSON already, apart from types JSON cannot hold (none in this table).
      const data = dynalite.validations.checkTypes(JSON.parse(JSON.stringify(input)), action.types);
      dynalite.validations.checkValidations(data, action.types, action.custom, store);
      action.run(store, data, (error, result) => (error ? fail(error) : resolve(result ?? {})));
    } catch (error) {
      fail(error as DynaliteError);
    }
  });
}

function serviceError(error: DynaliteError): Error {
  if (!error.statusCode) return error;
  const type = error.body?.__type?.split('#')[1] ?? 'UnknownError';
  const message = error.body?.message ?? error.body?.Message ?? type;
  if (type === 'ConditionalCheckFailedException') return new ConditionalCheckFailedException({ message, $metadata: {} });
  return new DynamoDBServiceException({ name: type, $fault: 'client', message, $metadata: { httpStatusCode: error.statusCode } });
}

/**
 * Creates the service table in memory (the key and indexes local mode and the stack declare) and a client that
 * reaches it. The one engine behind the unit tests' tables: `FakeConnections` uses the client, and the handler
 * tests' `memoryTable` answers the shared DynamoDB mock with `send`.
 */
export async function inMemoryServiceTable(tableName = 'connections'): Promise<InMemoryTable> {
  const store = dynalite.db.create({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await call(store, 'createTable', serviceTableDefinition(tableName));
  // Dynalite makes a table ACTIVE on a timer, even at 0 ms.
  while (((await call(store, 'describeTable', { TableName: tableName })) as { Table: { TableStatus: string } }).Table.TableStatus !== 'ACTIVE') {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const send = <T>(command: object): Promise<T> => {
    const entry = Object.entries(COMMANDS).find(([, Command]) => command instanceof Command);
    if (!entry) throw new Error(`The in-memory table does not run ${command.constructor.name}.`);
    return call(store, entry[0], (command as { input: object }).input) as Promise<T>;
  };
  const client = new DynamoDBClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  for (const [name, command] of Object.entries(COMMANDS)) {
    mock.on(command as typeof GetItemCommand).callsFake((input: object) => call(store, name, input));
  }
  return { client, tableName, send };
}
