//! OTLP metrics export requests, protobuf and JSON, through the collector's decoder and its
//! memory estimate.
#![no_main]

use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
};
use tracewire_collector::decode::{decode_metrics, metrics_memory};
use tracewire_fuzz::{Signal, otlp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // An item is a data point; the smallest of the five kinds is the floor.
    let item_size = [
        size_of::<NumberDataPoint>(),
        size_of::<HistogramDataPoint>(),
        size_of::<ExponentialHistogramDataPoint>(),
        size_of::<SummaryDataPoint>(),
    ]
    .into_iter()
    .min()
    .unwrap_or(0);
    otlp(
        data,
        &Signal {
            decode: decode_metrics,
            memory: metrics_memory,
            item_size,
        },
    );
});
