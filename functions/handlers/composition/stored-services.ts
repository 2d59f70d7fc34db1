import { dynamoDb, getSecretsManager } from '../../adapters/aws-clients.js';
import { ConnectionRepository } from '../../adapters/connection-repository.js';
import { DynamoIdentityLock } from '../../adapters/identity-lock.js';
import type { RecallClient } from '../../adapters/recall-client.js';
import { createRecallClient } from '../../adapters/recall-service.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';
import { loadConfig, requireTableName, type ServiceConfig } from '../../core/config.js';

/** What every function that keeps the connection records builds, once per cold start. */
export interface StoredServices {
  config: ServiceConfig;
  tableName: string;
  /** Read through the SDK: these functions load it for DynamoDB anyway. */
  secrets: SecretStore;
  connections: ConnectionRepository;
  recall: RecallClient;
  /** Serializes work on one Zoom identity (`LOCK#<identity>` in the table). */
  lock: DynamoIdentityLock;
}

/**
 * The composition root of the functions that keep the connection records: the callback, the connections API, the
 * webhook worker, health sync, reconcile and the outbox publisher (the callback and the outbox publisher add their
 * own pieces: callback.ts, outbox.ts). The two lean functions have roots of their own, so their bundles stay free of
 * what these carry: authorize (no AWS SDK at all, authorize.ts) and the webhook (no table, no Recall, webhook.ts).
 *
 * Called once, at a handler's module scope. A bad environment fails that cold start on purpose (the stack sets it,
 * and its tests check it); an unfilled secret is answered per request or per run instead. The environment is read
 * when this is called, not when this module loads: local mode loads a handler after setting `process.env`.
 * @param options.listsPerMinute - pace Recall's list calls (reconcile, which lists every credential)
 */
export function storedServices(options: { listsPerMinute?: number } = {}): StoredServices {
  const config = loadConfig();
  const tableName = requireTableName(config);
  const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
  return {
    config,
    tableName,
    secrets,
    connections: new ConnectionRepository(dynamoDb, tableName),
    recall: createRecallClient(config, secrets, options),
    lock: new DynamoIdentityLock(dynamoDb, tableName),
  };
}
