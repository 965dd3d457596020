//! The bounded export queue and the page-exit split into keepalive-sized requests.
//!
//! Recording code only calls [`BoundedQueue::push`], which never blocks and never grows past its
//! limits: a full queue drops the new item and counts it, and the count is exported later.

use crate::record::Item;

/// Size limits of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most items held.
    pub max_items: usize,
    /// Most estimated bytes held.
    pub max_bytes: usize,
}

/// A FIFO of telemetry items bounded by count and bytes.
#[derive(Debug)]
pub struct BoundedQueue {
    /// Oldest first, each with its estimated size.
    items: Vec<(Item, usize)>,
    bytes: usize,
    limits: QueueLimits,
    dropped: u64,
}

impl BoundedQueue {
    /// An empty queue.
    pub fn new(limits: QueueLimits) -> Self {
        BoundedQueue {
            items: Vec::new(),
            bytes: 0,
            limits,
            dropped: 0,
        }
    }

    /// Adds an item; returns `false` (and counts a drop) when a limit would be exceeded.
    pub fn push(&mut self, item: Item) -> bool {
        let size = item.approx_bytes();
        if self.items.len() >= self.limits.max_items || self.bytes + size > self.limits.max_bytes {
            self.dropped += 1;
            return false;
        }
        self.bytes += size;
        self.items.push((item, size));
        true
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Removes the oldest items up to `max_items` and `max_bytes` (always at least one item when
    /// the queue is not empty, so an item larger than a batch still leaves).
    pub fn take_batch(&mut self, max_items: usize, max_bytes: usize) -> Vec<Item> {
        let mut n = 0;
        let mut bytes = 0;
        for (_, size) in &self.items {
            if n > 0 && (n >= max_items || bytes + size > max_bytes) {
                break;
            }
            bytes += size;
            n += 1;
        }
        self.bytes -= bytes;
        self.items.drain(..n).map(|(item, _)| item).collect()
    }

    /// Drops counted since the last call, resetting the count.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

/// Splits `items` into consecutive groups whose encoding is at most `target_bytes` UTF-8 bytes,
/// halving a group until it fits; a single item above the target is still sent alone while it is
/// at most `max_bytes`. Small groups pack a shared budget better than a few large ones. Returns
/// the encoded groups with their item counts, and the number of single items above `max_bytes`
/// (these are dropped).
pub fn split_encoded<T>(
    items: &[T],
    target_bytes: usize,
    max_bytes: usize,
    encode: &dyn Fn(&[T]) -> String,
) -> (Vec<(String, usize)>, usize) {
    let mut out = Vec::new();
    let mut oversize = 0;
    let mut stack = vec![items];
    while let Some(group) = stack.pop() {
        if group.is_empty() {
            continue;
        }
        let body = encode(group);
        if body.len() <= target_bytes || (group.len() == 1 && body.len() <= max_bytes) {
            out.push((body, group.len()));
        } else if group.len() == 1 {
            oversize += 1;
        } else {
            let (a, b) = group.split_at(group.len() / 2);
            // Pushed in reverse so the output keeps the original order.
            stack.push(b);
            stack.push(a);
        }
    }
    (out, oversize)
}

/// How page-exit requests are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitRoute {
    /// `fetch` with `keepalive: true`.
    Keepalive,
    /// `navigator.sendBeacon`.
    Beacon,
}

/// Assigns each body (by its UTF-8 length) to keepalive while it fits in what is left of the
/// shared keepalive budget and in-flight slots, otherwise to a beacon.
pub fn route_exit_requests(
    sizes: &[usize],
    budget_left: usize,
    slots_left: usize,
) -> Vec<ExitRoute> {
    let mut budget = budget_left;
    let mut slots = slots_left;
    sizes
        .iter()
        .map(|&size| {
            if slots > 0 && size <= budget {
                slots -= 1;
                budget -= size;
                ExitRoute::Keepalive
            } else {
                ExitRoute::Beacon
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LogRecord, Severity};

    fn log(body: &str) -> Item {
        Item::Log(LogRecord {
            time_ns: 1,
            severity: Severity::Info,
            body: body.into(),
            event_name: None,
            attributes: vec![],
            trace_id: None,
            span_id: None,
        })
    }

    #[test]
    fn full_queue_drops_new_items_and_counts_them() {
        let mut q = BoundedQueue::new(QueueLimits {
            max_items: 3,
            max_bytes: 1 << 20,
        });
        for i in 0..5 {
            q.push(log(&i.to_string()));
        }
        assert_eq!(q.len(), 3);
        assert_eq!(q.take_dropped(), 2);
        assert_eq!(q.take_dropped(), 0);
        // The oldest were kept: drops hit new items.
        let batch = q.take_batch(10, usize::MAX);
        assert_eq!(batch, vec![log("0"), log("1"), log("2")]);
    }

    #[test]
    fn byte_limit_bounds_the_queue() {
        let one = log(&"x".repeat(1000)).approx_bytes();
        let mut q = BoundedQueue::new(QueueLimits {
            max_items: 1000,
            max_bytes: one * 4 + 10,
        });
        for _ in 0..10 {
            q.push(log(&"x".repeat(1000)));
        }
        assert_eq!(q.len(), 4);
        assert!(q.bytes() <= one * 4 + 10);
        assert_eq!(q.take_dropped(), 6);
    }

    #[test]
    fn batches_respect_count_and_byte_limits_and_free_space() {
        let mut q = BoundedQueue::new(QueueLimits {
            max_items: 100,
            max_bytes: 1 << 20,
        });
        for i in 0..10 {
            q.push(log(&i.to_string()));
        }
        assert_eq!(q.take_batch(4, usize::MAX).len(), 4);
        let size = log("1").approx_bytes();
        assert_eq!(q.take_batch(100, size * 2).len(), 2);
        // A single item above the byte limit still leaves, alone.
        assert_eq!(q.take_batch(100, 1).len(), 1);
        assert_eq!(q.len(), 3);
        assert_eq!(q.bytes(), 3 * size);
        assert!(q.push(log("again")));
    }

    #[test]
    fn split_keeps_order_and_every_part_fits() {
        let items: Vec<String> = (0..500).map(|i| format!("item-{i}-é")).collect();
        let encode = |g: &[String]| format!("[{}]", g.join(","));
        let (parts, oversize) = split_encoded(&items, 1000, 1000, &encode);
        assert_eq!(oversize, 0);
        assert!(parts.iter().all(|(p, _)| p.len() <= 1000));
        assert_eq!(parts.iter().map(|(_, n)| n).sum::<usize>(), items.len());
        let rejoined: Vec<String> = parts
            .iter()
            .flat_map(|(p, _)| {
                p.trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(rejoined, items);
    }

    #[test]
    fn split_counts_bytes_not_characters() {
        // 300 two-byte characters: 300 chars but 600 bytes, so it must not fit in 500.
        let items = vec!["é".repeat(300), "é".repeat(300)];
        let encode = |g: &[String]| g.concat();
        let (parts, oversize) = split_encoded(&items, 500, 500, &encode);
        assert!(parts.is_empty());
        assert_eq!(oversize, 2);
    }

    #[test]
    fn single_items_above_the_target_still_go_alone_up_to_the_maximum() {
        let items = vec![
            "a".repeat(10),
            "b".repeat(300),
            "c".repeat(10),
            "d".repeat(900),
        ];
        let encode = |g: &[String]| g.concat();
        let (parts, oversize) = split_encoded(&items, 100, 500, &encode);
        assert_eq!(oversize, 1, "the 900-byte item is over the maximum");
        let sizes: Vec<usize> = parts.iter().map(|(p, _)| p.len()).collect();
        assert_eq!(sizes, vec![10, 300, 10]);
    }

    #[test]
    fn exit_routing_stays_within_budget_and_nine_in_flight() {
        let sizes = vec![20_000; 6];
        let routes = route_exit_requests(&sizes, 60_000, 9);
        let keepalive: usize = sizes
            .iter()
            .zip(&routes)
            .filter(|(_, r)| **r == ExitRoute::Keepalive)
            .map(|(s, _)| s)
            .sum();
        assert_eq!(keepalive, 60_000);
        assert_eq!(
            routes.iter().filter(|r| **r == ExitRoute::Beacon).count(),
            3
        );

        let small = vec![100; 20];
        let routes = route_exit_requests(&small, 60_000, 9);
        assert_eq!(
            routes
                .iter()
                .filter(|r| **r == ExitRoute::Keepalive)
                .count(),
            9
        );

        let routes = route_exit_requests(&[10, 70_000, 10], 60_000, 9);
        assert_eq!(
            routes,
            vec![
                ExitRoute::Keepalive,
                ExitRoute::Beacon,
                ExitRoute::Keepalive
            ]
        );
    }
}
