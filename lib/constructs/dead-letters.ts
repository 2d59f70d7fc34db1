import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** The window of the count alarms (function errors and throttles, dead letters, lost events). */
export const COUNT_ALARM_PERIOD = Duration.minutes(5);

export interface DeadLetterQueueProps {
  /** How long a message waits for ops: at least until they can notice the alarm, fix the cause and act. */
  readonly retentionPeriod: Duration;
  /**
   * The cdk-nag rules that ask a queue for a dead-letter queue of its own (or for SSL-only access through a
   * policy it cannot see), acknowledged for the one reason they do not apply: this queue is the last stop.
   */
  readonly acknowledge: { readonly rules: readonly string[]; readonly reason: string };
}

/**
 * A dead-letter queue, shaped like every other of the service: SQS-managed encryption, TLS only, kept
 * `retentionPeriod`. Created in `scope` under `id`, as if by `new sqs.Queue(scope, id, ...)`.
 */
export function deadLetterQueue(scope: Construct, id: string, props: DeadLetterQueueProps): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: props.retentionPeriod,
  });
  for (const rule of props.acknowledge.rules) {
    Validations.of(queue.node.defaultChild as CfnResource).acknowledge({ id: rule, reason: props.acknowledge.reason });
  }
  return queue;
}

/** An alarm that fires at the first occurrence in one period (`>= 1`). */
export const AT_LEAST_ONCE = {
  threshold: 1,
  evaluationPeriods: 1,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
} as const;

/** Fires while a dead-letter queue holds a message: each one is a failure nothing retries any more. */
export function deadLetterAlarmProps(queue: sqs.IQueue, alarmName: string, alarmDescription: string): cloudwatch.AlarmProps {
  return {
    alarmName,
    alarmDescription,
    metric: visibleMessages(queue),
    ...AT_LEAST_ONCE,
  };
}

/** The messages waiting in `queue`, the highest count of each period. */
export function visibleMessages(queue: sqs.IQueue, period: Duration = COUNT_ALARM_PERIOD): cloudwatch.Metric {
  return queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM });
}

/**
 * An alarm that notifies `topic` when it fires and when it clears; missing data (nothing happened) is not breaching.
 * Created in `scope` under `id`.
 */
export function notifyingAlarm(scope: Construct, id: string, topic: sns.ITopic, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...props });
  const notify = new cloudwatchActions.SnsAction(topic);
  alarm.addAlarmAction(notify);
  alarm.addOkAction(notify);
  return alarm;
}
