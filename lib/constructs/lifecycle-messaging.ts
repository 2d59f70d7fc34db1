import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './dead-letters.js';

/** Receives after which a webhook event stops being retried and waits in the dead-letter queue. */
export const WEBHOOK_MAX_RECEIVE_COUNT = 5;

export interface LifecycleMessagingProps {
  /**
   * How the webhook queue's consumer runs, which the queue's visibility timeout must outlast: Lambda's guidance
   * is at least six times the function timeout plus the batching window, so that a record still being processed
   * (or retried by Lambda's poller after throttling) is never handed out a second time.
   */
  readonly webhookConsumer: { readonly timeout: Duration; readonly maxBatchingWindow: Duration };
}

/**
 * The messaging between the functions and to the product:
 * - the webhook queue: the webhook function answers Zoom as soon as a verified event is queued, and the worker
 *   processes and forwards it; what keeps failing ends in the dead-letter queue, which raises an alarm
 *   (see `Monitoring`);
 * - the event bus the product subscribes to for connection lifecycle events.
 */
export class LifecycleMessaging extends Construct {
  /** Lifecycle events (`source: recall-zoom-connect`, detail-type `Zoom connection <type>.v1`). */
  public readonly eventBus: events.EventBus;
  /** Verified Zoom webhook events, waiting for the worker. */
  public readonly webhookQueue: sqs.Queue;
  /** Webhook events that failed {@link WEBHOOK_MAX_RECEIVE_COUNT} times; ops inspect and redrive them. */
  public readonly webhookDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: LifecycleMessagingProps) {
    super(scope, id);

    // Named after the stack, so two stacks (staging, production) can live in one account and region.
    this.eventBus = new events.EventBus(this, 'EventBus', {
      eventBusName: `${Stack.of(this).stackName}-connections`,
      description: 'recall-zoom-connect: Zoom connection lifecycle events (connected, replaced, revoked, ...)',
    });

    this.webhookDeadLetterQueue = deadLetterQueue(this, 'WebhookDeadLetterQueue', {
      // A standard queue keeps a message's first enqueue time when it moves to the dead-letter queue, so this must
      // outlast the source queue's retention by the time ops need to notice the alarm and redrive.
      retentionPeriod: Duration.days(14),
      acknowledge: {
        rules: ['Serverless-SQSRedrivePolicy'],
        reason:
          "This is the webhook queue's dead-letter queue; a redrive policy of its own would only move failed events to yet another queue. Its depth is alarmed, and ops redrive it to the webhook queue once the cause is fixed.",
      },
    });

    const { timeout, maxBatchingWindow } = props.webhookConsumer;
    this.webhookQueue = new sqs.Queue(this, 'WebhookQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * timeout.toSeconds() + maxBatchingWindow.toSeconds()),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.webhookDeadLetterQueue, maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT },
    });
  }
}
