//! The browser SDK's JSON reader, against serde_json.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    tracewire_fuzz::json(text);
});
