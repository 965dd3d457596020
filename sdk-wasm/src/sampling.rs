//! Head sampling: decide once per trace, from the trace id, whether it is recorded.
//!
//! The decision uses the low 56 bits of the trace id (the part W3C Trace Context level 2 calls
//! random), so every component that sees the same id and the same rate agrees without talking.

use crate::context::TraceId;

/// Whether a trace with this id is kept at `rate` (0.0 keeps nothing, 1.0 keeps everything).
pub fn keep_trace(trace_id: &TraceId, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 || rate.is_nan() {
        return false;
    }
    let mut low = [0u8; 8];
    low[1..].copy_from_slice(&trace_id.0[9..16]);
    let value = u64::from_be_bytes(low);
    let threshold = (rate * (1u64 << 56) as f64) as u64;
    value < threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> TraceId {
        let mut b = [0u8; 16];
        // Spread n over the random part like a real generator would.
        let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        b[8..].copy_from_slice(&mixed.to_be_bytes());
        b[0] = 1;
        TraceId(b)
    }

    #[test]
    fn rate_one_keeps_all_and_rate_zero_keeps_none() {
        for n in 0..100 {
            assert!(keep_trace(&id(n), 1.0));
            assert!(!keep_trace(&id(n), 0.0));
        }
    }

    #[test]
    fn quarter_rate_keeps_about_a_quarter() {
        let kept = (0..20_000).filter(|n| keep_trace(&id(*n), 0.25)).count();
        assert!((4_500..5_500).contains(&kept), "kept {kept}");
    }

    #[test]
    fn decision_is_stable_for_the_same_trace() {
        let t = id(42);
        let first = keep_trace(&t, 0.5);
        for _ in 0..10 {
            assert_eq!(keep_trace(&t, 0.5), first);
        }
    }

    #[test]
    fn lower_rate_keeps_a_subset_of_higher_rate() {
        for n in 0..2_000 {
            if keep_trace(&id(n), 0.1) {
                assert!(keep_trace(&id(n), 0.5));
            }
        }
    }
}
