/**
 * Moves a message that cannot be processed to the dead-letter exchange with a header saying
 * why, then acknowledges it: it never blocks the queue and is never lost. (A plain reject
 * would dead-letter it too, but without a reason.)
 */
import type { ConfirmChannel, ConsumeMessage } from './connection.ts';
import { REASON_HEADER, type AmqpNames } from './topology.ts';

export function deadLetter(ch: ConfirmChannel, names: AmqpNames, message: ConsumeMessage, reason: string): Promise<void> {
  const props = message.properties;
  return new Promise((resolve) => {
    const settle = (op: () => void) => {
      try {
        op();
      } catch {
        // The channel closed meanwhile; the broker redelivers the original.
      }
      resolve();
    };
    try {
      ch.publish(
        names.deadExchange,
        message.fields.routingKey,
        message.content,
        {
          persistent: true,
          contentType: props.contentType,
          messageId: props.messageId,
          correlationId: props.correlationId,
          headers: { ...props.headers, [REASON_HEADER]: reason.slice(0, 500), 'x-switchyard-source': message.fields.exchange || '(default)' },
        },
        // Confirmed: drop the original. Not confirmed: leave it to be redelivered.
        (error) => settle(() => (error ? ch.nack(message, false, true) : ch.ack(message))),
      );
    } catch {
      // A closed channel throws at once: nothing was published or acknowledged, so the broker
      // redelivers the original on the next channel.
      resolve();
    }
  });
}
