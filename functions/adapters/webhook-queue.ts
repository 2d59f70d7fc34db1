import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { WebhookQueueMessage } from './zoom-webhook.js';

/**
 * The durable hand-off between the webhook (which must answer Zoom within 3 s) and the worker (which may take its
 * time with DynamoDB and Recall, and is retried by SQS, then dead-lettered).
 */
export class WebhookQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: () => SQSClient,
  ) {}

  /** Resolves once SQS has stored the message; any failure throws, so the webhook answers 5xx and Zoom retries. */
  async send(message: WebhookQueueMessage): Promise<void> {
    await this.client().send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}
