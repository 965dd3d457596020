//! OTLP logs export requests, protobuf and JSON, through the collector's decoder and its
//! memory estimate.
#![no_main]

use tracewire_collector::decode::{decode_logs, logs_memory};
use tracewire_fuzz::{Signal, otlp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    otlp(
        data,
        &Signal {
            decode: decode_logs,
            memory: logs_memory,
            item_size: size_of::<opentelemetry_proto::tonic::logs::v1::LogRecord>(),
        },
    );
});
