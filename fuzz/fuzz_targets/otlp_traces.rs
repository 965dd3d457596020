//! OTLP trace export requests, protobuf and JSON, through the collector's decoder and its
//! memory estimate.
#![no_main]

use tracewire_collector::decode::{decode_traces, traces_memory};
use tracewire_fuzz::{Signal, otlp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    otlp(
        data,
        &Signal {
            decode: decode_traces,
            memory: traces_memory,
            item_size: size_of::<opentelemetry_proto::tonic::trace::v1::Span>(),
        },
    );
});
