//! `traceparent` parsing in the browser SDK.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    tracewire_fuzz::traceparent(text);
});
