//! Query API parameters (search, round trips, latency, rates, sessions, hot endpoints).
#![no_main]

libfuzzer_sys::fuzz_target!(|input: tracewire_fuzz::Query<'_>| {
    tracewire_fuzz::query(input);
});
