// What the message-types answer says the browser SDK did not trace: messages it counted without
// a span (beyond its allowance per socket and type, or sampled out; they are in every count and
// percentile, but no trace lists them) and items its queue dropped.

import type { MessageTypesResponse } from '../api';

/** Messages counted without a trace, over every type. */
export function countedMessages(resp: MessageTypesResponse): number {
  return resp.types.reduce((sum, t) => sum + t.counted, 0);
}

/** `traced / counted` of one type's messages. */
export function tracedAndCounted(t: { traced: number; counted: number }): string {
  return `${t.traced.toLocaleString('en')} / ${t.counted.toLocaleString('en')}`;
}

/**
 * The line under the message types naming the messages counted without a trace and the items the SDK
 * dropped; null when both are zero.
 */
export function untracedLine(resp: MessageTypesResponse): string | null {
  const counted = countedMessages(resp);
  const dropped = resp.dropped;
  const parts: string[] = [];
  if (counted > 0) {
    parts.push(
      `${counted.toLocaleString('en')} ${counted === 1 ? 'message was' : 'messages were'} counted without a trace (included in the counts and percentiles, not in the round-trip lists)`,
    );
  }
  if (dropped > 0) {
    parts.push(`the SDK dropped ${dropped.toLocaleString('en')} ${dropped === 1 ? 'item' : 'items'} (its queue was full)`);
  }
  if (!parts.length) return null;
  const line = parts.join('; ');
  return `${line[0].toUpperCase()}${line.slice(1)}.`;
}
