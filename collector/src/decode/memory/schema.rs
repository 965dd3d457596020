//! The OTLP schema as far as memory goes: each message type's decoded size and the fields that
//! take memory, for traces ([`TRACES`]), logs ([`LOGS`]) and metrics ([`METRICS`]).

use std::mem::size_of;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::{Field, Schema, schema};

static ANY_VALUE: Schema = Schema {
    buffered: true,
    ..schema(
        size_of::<AnyValue>(),
        &[
            (1, "stringValue", Field::Bytes),
            (5, "arrayValue", Field::Message(&ARRAY_VALUE)),
            (6, "kvlistValue", Field::Message(&KEY_VALUE_LIST)),
            (7, "bytesValue", Field::Bytes),
        ],
    )
};
static ARRAY_VALUE: Schema = schema(
    size_of::<ArrayValue>(),
    &[(1, "values", Field::Message(&ANY_VALUE))],
);
static KEY_VALUE_LIST: Schema = schema(
    size_of::<KeyValueList>(),
    &[(1, "values", Field::Message(&KEY_VALUE))],
);
static KEY_VALUE: Schema = schema(
    size_of::<KeyValue>(),
    &[
        (1, "key", Field::Bytes),
        (2, "value", Field::Message(&ANY_VALUE)),
    ],
);
static ENTITY_REF: Schema = schema(
    size_of::<EntityRef>(),
    &[
        (1, "schemaUrl", Field::Bytes),
        (2, "type", Field::Bytes),
        (3, "idKeys", Field::Bytes),
        (4, "descriptionKeys", Field::Bytes),
    ],
);
static RESOURCE: Schema = schema(
    size_of::<Resource>(),
    &[
        (1, "attributes", Field::Message(&KEY_VALUE)),
        (3, "entityRefs", Field::Message(&ENTITY_REF)),
    ],
);
static SCOPE: Schema = schema(
    size_of::<InstrumentationScope>(),
    &[
        (1, "name", Field::Bytes),
        (2, "version", Field::Bytes),
        (3, "attributes", Field::Message(&KEY_VALUE)),
    ],
);
static STATUS: Schema = schema(size_of::<Status>(), &[(2, "message", Field::Bytes)]);
static EVENT: Schema = schema(
    size_of::<Event>(),
    &[
        (2, "name", Field::Bytes),
        (3, "attributes", Field::Message(&KEY_VALUE)),
    ],
);
static LINK: Schema = schema(
    size_of::<Link>(),
    &[
        (1, "traceId", Field::Bytes),
        (2, "spanId", Field::Bytes),
        (3, "traceState", Field::Bytes),
        (4, "attributes", Field::Message(&KEY_VALUE)),
    ],
);
static SPAN: Schema = Schema {
    item: true,
    ..schema(
        size_of::<Span>(),
        &[
            (1, "traceId", Field::Bytes),
            (2, "spanId", Field::Bytes),
            (3, "traceState", Field::Bytes),
            (4, "parentSpanId", Field::Bytes),
            (5, "name", Field::Bytes),
            (9, "attributes", Field::Message(&KEY_VALUE)),
            (11, "events", Field::Message(&EVENT)),
            (13, "links", Field::Message(&LINK)),
            (15, "status", Field::Message(&STATUS)),
        ],
    )
};
static SCOPE_SPANS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ScopeSpans>(),
        &[
            (1, "scope", Field::Message(&SCOPE)),
            (2, "spans", Field::Message(&SPAN)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
static RESOURCE_SPANS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ResourceSpans>(),
        &[
            (1, "resource", Field::Message(&RESOURCE)),
            (2, "scopeSpans", Field::Message(&SCOPE_SPANS)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
/// `ExportTraceServiceRequest`.
pub(super) static TRACES: Schema = schema(
    size_of::<ExportTraceServiceRequest>(),
    &[(1, "resourceSpans", Field::Message(&RESOURCE_SPANS))],
);
static LOG_RECORD: Schema = Schema {
    item: true,
    ..schema(
        size_of::<LogRecord>(),
        &[
            (3, "severityText", Field::Bytes),
            (5, "body", Field::Message(&ANY_VALUE)),
            (6, "attributes", Field::Message(&KEY_VALUE)),
            (9, "traceId", Field::Bytes),
            (10, "spanId", Field::Bytes),
            (12, "eventName", Field::Bytes),
        ],
    )
};
static SCOPE_LOGS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ScopeLogs>(),
        &[
            (1, "scope", Field::Message(&SCOPE)),
            (2, "logRecords", Field::Message(&LOG_RECORD)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
static RESOURCE_LOGS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ResourceLogs>(),
        &[
            (1, "resource", Field::Message(&RESOURCE)),
            (2, "scopeLogs", Field::Message(&SCOPE_LOGS)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
/// `ExportLogsServiceRequest`.
pub(super) static LOGS: Schema = schema(
    size_of::<ExportLogsServiceRequest>(),
    &[(1, "resourceLogs", Field::Message(&RESOURCE_LOGS))],
);

static EXEMPLAR: Schema = schema(
    size_of::<Exemplar>(),
    &[
        (4, "spanId", Field::Bytes),
        (5, "traceId", Field::Bytes),
        (7, "filteredAttributes", Field::Message(&KEY_VALUE)),
    ],
);
static NUMBER_POINT: Schema = Schema {
    item: true,
    ..schema(
        size_of::<NumberDataPoint>(),
        &[
            (5, "exemplars", Field::Message(&EXEMPLAR)),
            (7, "attributes", Field::Message(&KEY_VALUE)),
        ],
    )
};
static HISTOGRAM_POINT: Schema = Schema {
    item: true,
    ..schema(
        size_of::<HistogramDataPoint>(),
        &[
            (6, "bucketCounts", Field::Numbers),
            (7, "explicitBounds", Field::Numbers),
            (8, "exemplars", Field::Message(&EXEMPLAR)),
            (9, "attributes", Field::Message(&KEY_VALUE)),
        ],
    )
};
static BUCKETS: Schema = schema(size_of::<Buckets>(), &[(2, "bucketCounts", Field::Numbers)]);
static EXPONENTIAL_POINT: Schema = Schema {
    item: true,
    ..schema(
        size_of::<ExponentialHistogramDataPoint>(),
        &[
            (1, "attributes", Field::Message(&KEY_VALUE)),
            (8, "positive", Field::Message(&BUCKETS)),
            (9, "negative", Field::Message(&BUCKETS)),
            (11, "exemplars", Field::Message(&EXEMPLAR)),
        ],
    )
};
static QUANTILE: Schema = schema(size_of::<ValueAtQuantile>(), &[]);
static SUMMARY_POINT: Schema = Schema {
    item: true,
    ..schema(
        size_of::<SummaryDataPoint>(),
        &[
            (6, "quantileValues", Field::Message(&QUANTILE)),
            (7, "attributes", Field::Message(&KEY_VALUE)),
        ],
    )
};
static GAUGE: Schema = schema(
    size_of::<Gauge>(),
    &[(1, "dataPoints", Field::Message(&NUMBER_POINT))],
);
static SUM: Schema = schema(
    size_of::<Sum>(),
    &[(1, "dataPoints", Field::Message(&NUMBER_POINT))],
);
static HISTOGRAM: Schema = schema(
    size_of::<Histogram>(),
    &[(1, "dataPoints", Field::Message(&HISTOGRAM_POINT))],
);
static EXPONENTIAL_HISTOGRAM: Schema = schema(
    size_of::<ExponentialHistogram>(),
    &[(1, "dataPoints", Field::Message(&EXPONENTIAL_POINT))],
);
static SUMMARY: Schema = schema(
    size_of::<Summary>(),
    &[(1, "dataPoints", Field::Message(&SUMMARY_POINT))],
);
static METRIC: Schema = Schema {
    // Name, description and unit are copied into every point.
    per_item: &[1, 2, 3],
    ..schema(
        size_of::<Metric>(),
        &[
            (1, "name", Field::Bytes),
            (2, "description", Field::Bytes),
            (3, "unit", Field::Bytes),
            (5, "gauge", Field::Message(&GAUGE)),
            (7, "sum", Field::Message(&SUM)),
            (9, "histogram", Field::Message(&HISTOGRAM)),
            (
                10,
                "exponentialHistogram",
                Field::Message(&EXPONENTIAL_HISTOGRAM),
            ),
            (11, "summary", Field::Message(&SUMMARY)),
            (12, "metadata", Field::Message(&KEY_VALUE)),
        ],
    )
};
static SCOPE_METRICS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ScopeMetrics>(),
        &[
            (1, "scope", Field::Message(&SCOPE)),
            (2, "metrics", Field::Message(&METRIC)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
static RESOURCE_METRICS: Schema = Schema {
    per_item: &[1],
    ..schema(
        size_of::<ResourceMetrics>(),
        &[
            (1, "resource", Field::Message(&RESOURCE)),
            (2, "scopeMetrics", Field::Message(&SCOPE_METRICS)),
            (3, "schemaUrl", Field::Bytes),
        ],
    )
};
/// `ExportMetricsServiceRequest`.
pub(super) static METRICS: Schema = schema(
    size_of::<ExportMetricsServiceRequest>(),
    &[(1, "resourceMetrics", Field::Message(&RESOURCE_METRICS))],
);
