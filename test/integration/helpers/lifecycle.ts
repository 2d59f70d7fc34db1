import { createHash } from 'node:crypto';
import { ConnectionRepository } from '../../../functions/adapters/connection-repository.js';
import { connectionKey, TABLE_SCHEMA } from '../../../functions/core/table-schema.js';
import { expect } from 'vitest';
import {
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  type ConnectionEventType,
  detailTypeOf,
} from '../../../functions/adapters/event-publisher.js';
import type { LocalBusEvent } from '../../../local/local-eventbridge.js';
import type { DeadLetter } from '../../../local/local-sqs.js';
import { deauthorizationEvent, zoomWebhookHeaders } from '../../../local/sandbox-zoom.js';
import type { LocalServer } from '../../../local/server.js';
import { tableOf } from './local-service.js';

/**
 * Playing Zoom and reading what local mode's AWS stand-ins saw, for the lifecycle integration tests. Everything
 * goes over real HTTP: the webhook to `/zoom/webhook`, the inspection routes under `/_local/`.
 */

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export interface SentWebhook {
  response: Response;
  /** The parsed JSON answer, or undefined when the body was not JSON. */
  answer: unknown;
  /** Hex SHA-256 of the exact body bytes and of the signature header sent, to compare with the sandbox's record. */
  bodySha256: string;
  signatureSha256: string;
  timestamp: string;
}

export interface WebhookOptions {
  /** Sign with this token instead of the server's (a bad signature). */
  token?: string;
  /** Epoch seconds to sign with and send (a stale or future timestamp). */
  timestampSeconds?: number;
  /** Send without the signature headers. */
  unsigned?: boolean;
  /** Replaces or adds headers after signing. */
  headers?: Record<string, string>;
}

/** POSTs `body` to `/zoom/webhook` as Zoom would: signed with the server's Secret Token unless told otherwise. */
export async function sendZoomWebhook(server: LocalServer, body: string, options: WebhookOptions = {}): Promise<SentWebhook> {
  const signed = zoomWebhookHeaders(
    options.token ?? server.settings.zoomWebhookSecretToken,
    body,
    options.timestampSeconds ?? Math.floor(Date.now() / 1000),
  );
  const headers: Record<string, string> = { ...signed, ...options.headers };
  if (options.unsigned) {
    delete headers['x-zm-signature'];
    delete headers['x-zm-request-timestamp'];
  }
  const response = await fetch(`${server.url}/zoom/webhook`, { method: 'POST', headers, body });
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  return {
    response,
    answer,
    bodySha256: sha256Hex(body),
    signatureSha256: sha256Hex(headers['x-zm-signature'] ?? ''),
    timestamp: headers['x-zm-request-timestamp'] ?? '',
  };
}

/** A signed `app_deauthorized` for a Zoom identity, as Zoom sends it when the app is removed; returns the body too. */
export async function deauthorize(
  server: LocalServer,
  identity: { accountId: string; userId: string },
  userDataRetention = false,
): Promise<SentWebhook & { body: string }> {
  const body = deauthorizationEvent({ ...identity, clientId: server.settings.zoomClientId, userDataRetention });
  const sent = await sendZoomWebhook(server, body);
  expect(sent.response.status, JSON.stringify(sent.answer)).toBe(200);
  return { ...sent, body };
}

/** Any other Zoom event (Recall subscribes to meeting and user events), with a unique id inside. */
export function meetingCreatedEvent(meetingId: string): string {
  return JSON.stringify({
    event: 'meeting.created',
    event_ts: Date.now(),
    payload: { account_id: 'acct-meetings', object: { id: meetingId, topic: 'Weekly sync' } },
  });
}

/**
 * Runs the outbox publisher now (`POST /_local/outbox`, the same function local mode runs every 250 ms) until no
 * entry of these users (default: anyone) waits in the table: their events are on the bus, and each connect's
 * follow-up (moving the identity's other records, whose `replaced` entries a later run publishes) is done. Tests
 * wait on this, never on the clock.
 * @returns how many runs it took
 */
export async function settleOutbox(server: LocalServer, userIds?: readonly string[], maxRuns = 40): Promise<number> {
  for (let run = 1; run <= maxRuns; run++) {
    const response = await fetch(`${server.url}/_local/outbox`, { method: 'POST' });
    expect(response.status, await response.clone().text()).toBe(200);
    const waiting = await waitingOutboxUsers(server);
    if (!waiting.some((userId) => userIds === undefined || userIds.includes(userId))) return run;
  }
  throw new Error(`The outbox still had entries waiting after ${maxRuns} runs.`);
}

/** The users whose items hold an outbox entry still waiting (the sparse `byOutbox` index, read from dynalite). */
async function waitingOutboxUsers(server: LocalServer): Promise<string[]> {
  const table = tableOf(server);
  try {
    const items = await new ConnectionRepository(table.client, table.name).listPendingOutbox('9999', 10_000);
    return items.map((item) => String(item[TABLE_SCHEMA.partitionKey]?.S).slice(connectionKey('').length));
  } finally {
    await table.close();
  }
}

/** `GET /_local/events` once the outbox is settled, every one checked against the published detail schema. */
export async function busEvents(
  server: LocalServer,
  userIds?: readonly string[],
): Promise<(LocalBusEvent & { detail: ConnectionEventDetail })[]> {
  await settleOutbox(server, userIds);
  const events = (await (await fetch(`${server.url}/_local/events`)).json()) as LocalBusEvent[];
  return events.map((event) => {
    const detail = ConnectionEventDetailSchema.parse(event.detail);
    expect(event.source).toBe('recall-zoom-connect');
    expect(event.detailType).toBe(detailTypeOf(detail.type));
    return { ...event, detail };
  });
}

/** The types of the events about one product user, oldest first. */
export async function eventTypesFor(server: LocalServer, userId: string): Promise<ConnectionEventType[]> {
  return (await eventsFor(server, userId)).map((event) => event.type);
}

export async function eventsFor(server: LocalServer, userId: string): Promise<ConnectionEventDetail[]> {
  return (await busEvents(server, [userId])).filter((event) => event.detail.userId === userId).map((event) => event.detail);
}

/** `GET /_local/dlq`. */
export async function deadLetters(server: LocalServer): Promise<DeadLetter[]> {
  return (await (await fetch(`${server.url}/_local/dlq`)).json()) as DeadLetter[];
}

/** The raw Zoom body a dead-lettered webhook message carries. */
export function zoomBodyOf(letter: DeadLetter): string {
  const message = JSON.parse(letter.body) as { bodyBase64: string };
  return Buffer.from(message.bodyBase64, 'base64').toString('utf8');
}

/** `POST /_local/health-sync`: runs it now and returns its summary. */
export async function runHealthSync(server: LocalServer): Promise<Record<string, number>> {
  const response = await fetch(`${server.url}/_local/health-sync`, { method: 'POST' });
  const summary = (await response.json()) as Record<string, number>;
  expect(response.status, JSON.stringify(summary)).toBe(200);
  return summary;
}

/** `POST /sandbox/recall/_sandbox/credentials/{id}/status`: Recall deciding a credential's health. */
export async function setCredentialHealth(
  server: LocalServer,
  credentialId: string,
  status: 'healthy' | 'unhealthy',
): Promise<void> {
  const response = await fetch(`${server.settings.recall.baseUrl}/_sandbox/credentials/${credentialId}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status }),
  });
  expect(response.status).toBe(200);
}
