//! The ClickHouse spool as a starting collector reads and ships it: damaged files are moved
//! aside, never a crash, never a file lost.
#![no_main]

libfuzzer_sys::fuzz_target!(|case: tracewire_fuzz::SpoolCase<'_>| {
    tracewire_fuzz::spool(case);
});
