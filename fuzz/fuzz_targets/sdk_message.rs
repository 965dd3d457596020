//! The browser SDK's trace context injection into WebSocket messages and its extraction.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: tracewire_fuzz::Message<'_>| {
    tracewire_fuzz::message(input);
});
