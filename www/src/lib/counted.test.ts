import { describe, expect, it } from 'vitest';
import type { MessageType, MessageTypesResponse } from '../api';
import { countedMessages, tracedAndCounted, untracedLine } from './counted';

const type = (message_type: string, traced: number, counted: number): MessageType => ({
  message_type,
  count: traced + counted,
  traced,
  counted,
  errors: 0,
  rate_per_s: 1,
  p50_total_ns: null,
  p95_total_ns: null,
  example_trace_id: null,
  slowest_trace_id: null,
});

describe('counted messages', () => {
  it('adds up the counted messages of every type', () => {
    const resp: MessageTypesResponse = { types: [type('chat', 100, 4900), type('run', 3, 0)], dropped: 0 };
    expect(countedMessages(resp)).toBe(4900);
    expect(tracedAndCounted(resp.types[0])).toBe('100 / 4,900');
  });

  it('names counted messages and dropped items only when there are any', () => {
    expect(untracedLine({ types: [type('chat', 5, 0)], dropped: 0 })).toBeNull();
    expect(untracedLine({ types: [type('chat', 5, 1200)], dropped: 0 })).toBe(
      '1,200 messages were counted without a trace (included in the counts and percentiles, not in the round-trip lists).',
    );
    expect(untracedLine({ types: [type('chat', 5, 0)], dropped: 1 })).toBe('The SDK dropped 1 item (its queue was full).');
    expect(untracedLine({ types: [type('chat', 5, 1), type('run', 0, 2)], dropped: 7 })).toBe(
      '3 messages were counted without a trace (included in the counts and percentiles, not in the round-trip lists); the SDK dropped 7 items (its queue was full).',
    );
  });
});
