//! Request body decompression (gzip, deflate) bounded by the body limit.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: tracewire_fuzz::Compressed<'_>| {
    tracewire_fuzz::decompress(input);
});
