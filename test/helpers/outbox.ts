import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { ConnectionEventDetail } from '../../functions/adapters/event-publisher.js';
import { eventsOf, outboxEntriesOf } from '../../functions/adapters/outbox.js';

/**
 * The lifecycle events that UpdateItem calls hold in the outbox, in call order, as the outbox publisher derives
 * them. DynamoDB fills a write's copies of the item as it was (`if_not_exists(attribute, NULL)`); with the SDK
 * mocked, `itemBefore` says what that item was (nothing by default, so the copies are NULL).
 * @param inputs - the UpdateItem inputs a unit test's code sent (only the ones that succeeded)
 * @param itemBefore - the item each write found
 */
export function outboxEventsOf(
  inputs: readonly UpdateItemCommandInput[],
  itemBefore: (input: UpdateItemCommandInput) => Record<string, AttributeValue> = () => ({}),
): ConnectionEventDetail[] {
  return inputs.flatMap((input) => {
    const names = input.ExpressionAttributeNames ?? {};
    const entry = input.ExpressionAttributeValues?.[':obEntry'];
    const attribute = names['#obEntry'];
    if (!entry || !attribute) return [];
    const before = itemBefore(input);
    const image: Record<string, AttributeValue> = { [attribute]: entry };
    for (const [placeholder, name] of Object.entries(names)) {
      const index = /^#obCap(\d+)$/.exec(placeholder)?.[1];
      if (index !== undefined) image[name] = before[names[`#obSrc${index}`] ?? ''] ?? { NULL: true };
    }
    return outboxEntriesOf(image).entries.flatMap(eventsOf);
  });
}
