//! What the fuzz targets in `fuzz_targets/` check, one function per target. A target file only
//! hands its input to one of these, so a new target (say, OTLP metrics once the collector takes
//! them) is one small file in `fuzz_targets/` and its `[[bin]]` entry in `Cargo.toml`.
//!
//! Run one with `cargo +nightly fuzz run <target> -- -max_total_time=60` from the repository
//! root; `scripts/test-fuzz.sh` runs them all for a bounded time with the seeds in `seeds/`.

use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use tower::ServiceExt;
use tracewire_collector::decode::{DecodeError, Decoded, Encoding};
use tracewire_sdk::context::{SpanId, TraceId, TraceParent};
use tracewire_sdk::{json, message};

/// One OTLP signal: how ingest decodes a request and estimates its memory.
pub struct Signal {
    /// The decoder.
    pub decode: fn(&[u8], Encoding) -> Result<Decoded, DecodeError>,
    /// The memory estimate made before decoding.
    pub memory: fn(&[u8], Encoding) -> u64,
    /// The decoded size of one item of the request (a span, a log record), at the least.
    pub item_size: usize,
}

/// Decodes `data` as protobuf and as JSON: never a panic, and the memory estimate covers at
/// least every item the request decodes into.
pub fn otlp(data: &[u8], signal: &Signal) {
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let estimate = (signal.memory)(data, encoding);
        if let Ok(decoded) = (signal.decode)(data, encoding) {
            let floor = decoded.received.saturating_mul(signal.item_size as u64);
            assert!(
                estimate >= floor,
                "{encoding:?}: estimate {estimate} below the {floor} bytes of {} items",
                decoded.received
            );
        }
    }
}

/// Input of the decompression target.
#[derive(Arbitrary, Debug)]
pub struct Compressed<'a> {
    /// Picks the `Content-Encoding`.
    pub coding: u8,
    /// The limit after decompression, bytes (plus one).
    pub limit: u16,
    /// The body.
    pub body: &'a [u8],
}

const CODINGS: [&str; 6] = ["gzip", "x-gzip", "deflate", "identity", "", "br"];

/// Decompresses a fuzzed body, and a fuzzed payload compressed for real: never more than the
/// limit, never a panic, and a compressed payload comes back whole exactly when it fits.
pub fn decompress(input: Compressed<'_>) {
    use tracewire_collector::receive::fuzzing::decompress;
    let max = usize::from(input.limit) + 1;
    let coding = CODINGS[usize::from(input.coding) % CODINGS.len()];
    let _ = decompress(input.body, coding, max);

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(input.body).expect("in memory");
    let gzip = gzip.finish().expect("in memory");
    let len = input.body.len();
    match decompress(&gzip, "gzip", max) {
        Ok(out) => assert!(out == len && len <= max, "{out} of {len} under {max}"),
        Err(e) => assert!(len > max, "{len} bytes under {max} refused: {e}"),
    }
}

/// The query API over an empty store, built once.
fn api() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static API: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    API.get_or_init(|| {
        use tracewire_collector::api::{Api, router};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (dir, store, metrics) =
            runtime.block_on(tracewire_collector::testing::temp_store(1000));
        // The store's file lives in it for the life of the process (statics are never dropped).
        std::mem::forget(dir);
        // The alert engine's tasks run on the runtime.
        let alerts = {
            let _entered = runtime.enter();
            tracewire_collector::testing::alerts(&store)
        };
        let router = router(Api {
            store,
            metrics,
            ready: Default::default(),
            reads: Default::default(),
            // No access file, a loopback listener: requests name it as their Host.
            guard: Default::default(),
            alerts,
        });
        (runtime, router)
    })
}

/// Query API routes whose parameters the target fuzzes; `{}` is a path parameter.
const ROUTES: [&str; 10] = [
    "/api/traces",
    "/api/traces/{}",
    "/api/services",
    "/api/ws/roundtrips",
    "/api/ws/latency",
    "/api/ws/message-types",
    "/api/ws/rates",
    "/api/sessions/{}",
    "/api/endpoints/hot",
    "/api/live",
];

/// Input of the query parameter target.
#[derive(Arbitrary, Debug)]
pub struct Query<'a> {
    /// Picks the route.
    pub route: u8,
    /// The path parameter, where the route has one.
    pub param: &'a str,
    /// The query string.
    pub query: &'a str,
}

/// Sends a GET with fuzzed parameters to the query API: whatever they are, the answer is a
/// success or a 4xx that names the problem, never a 5xx or a panic.
pub fn query(input: Query<'_>) {
    let (runtime, router) = api();
    let route = ROUTES[usize::from(input.route) % ROUTES.len()];
    let path = route.replace("{}", input.param);
    let Ok(uri) = format!("{path}?{}", input.query).parse::<Uri>() else {
        return;
    };
    let Ok(request) = Request::get(uri)
        .header("host", "localhost")
        .body(Body::empty())
    else {
        return;
    };
    let response = runtime
        .block_on(router.clone().oneshot(request))
        .unwrap_or_else(|e| match e {});
    assert!(
        response.status() < StatusCode::INTERNAL_SERVER_ERROR,
        "{path}?{}: {}",
        input.query,
        response.status()
    );
}

/// One file of a fuzzed spool.
#[derive(Arbitrary, Debug)]
pub struct SpoolFile<'a> {
    /// Log rows rather than spans.
    pub logs: bool,
    /// Written by a collector before 0.2: JSON lines rather than a RowBinary payload.
    pub legacy: bool,
    /// Whether the file gets a correct header and checksum around `content` (so its rows are
    /// read) or is `content` as it is.
    pub framed: bool,
    /// The row count in the header.
    pub rows: u32,
    /// The payload (a trace list and RowBinary rows, or JSON lines), or the whole file.
    pub content: &'a [u8],
}

/// Input of the spool target.
#[derive(Arbitrary, Debug)]
pub struct SpoolCase<'a> {
    /// The spooled files, in name order.
    pub files: Vec<SpoolFile<'a>>,
    /// An INSERT in flight, by file positions (first, last).
    pub manifest: Option<(u8, u8)>,
}

/// Ships a fuzzed spool to an unreachable ClickHouse, as a starting collector would: never a
/// panic, and no file with rows is ever lost (nothing was confirmed, so each stays or is moved
/// aside; only an empty one is done with).
pub fn spool(case: SpoolCase<'_>) {
    use tracewire_collector::store::clickhouse::fuzzing::{
        holds_no_rows, legacy_spool_file, ship_to_nowhere, spool_file,
    };
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    });
    // In memory where there is a tmpfs: the spool fsyncs every file it writes.
    let dir = match std::path::Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::tempdir_in(shm),
        _ => tempfile::tempdir(),
    }
    .expect("tempdir");
    let mut names = Vec::new();
    for (i, file) in case.files.iter().take(8).enumerate() {
        let kind = if file.logs { "logs" } else { "spans" };
        let name = format!("00000000000000000001-{i:012}.{kind}");
        let bytes = if file.framed && file.legacy {
            legacy_spool_file(file.rows, file.content)
        } else if file.framed {
            spool_file(file.rows, file.content)
        } else {
            file.content.to_vec()
        };
        std::fs::write(dir.path().join(&name), bytes).expect("write");
        names.push(name);
    }
    if let Some((first, last)) = case.manifest
        && let (Some(first), Some(last)) = (
            names.get(usize::from(first) % names.len().max(1)),
            names.get(usize::from(last) % names.len().max(1)),
        )
    {
        let kind = first.rsplit('.').next().unwrap_or("spans");
        std::fs::write(
            dir.path().join(format!("shipping-{kind}")),
            format!("{first} {last}\n"),
        )
        .expect("write");
    }
    let _ = runtime.block_on(ship_to_nowhere(dir.path()));
    for (name, file) in names.iter().zip(&case.files) {
        let empty = file.framed
            && file.rows == 0
            && if file.legacy {
                file.content.split(|b| *b == b'\n').all(<[u8]>::is_empty)
            } else {
                holds_no_rows(file.content)
            };
        assert!(
            empty
                || dir.path().join(name).exists()
                || dir.path().join("rejected").join(name).exists(),
            "{name} was lost"
        );
    }
}

/// Input of the message target.
#[derive(Arbitrary, Debug)]
pub struct Message<'a> {
    /// The application's message.
    pub text: &'a str,
    /// The configured context field.
    pub field: &'a str,
    /// The `tracestate` carried along.
    pub tracestate: &'a str,
    /// The context's trace id.
    pub trace_id: [u8; 16],
    /// The context's span id.
    pub span_id: [u8; 8],
    /// The context's flags.
    pub flags: u8,
}

/// Injects a context into a fuzzed message and reads it back: a message that gets the context
/// stays valid JSON (for serde_json too when it was before), and the context read back from it,
/// or from the envelope around any text, is the one injected.
pub fn message(input: Message<'_>) {
    let tp = TraceParent {
        trace_id: TraceId(input.trace_id),
        span_id: SpanId(input.span_id),
        flags: input.flags,
    };
    let fields = ["type".to_owned(), "kind".to_owned()];
    let expected = TraceParent::parse(&tp.encode());
    let out = message::inject(input.text, input.field, &fields, &tp, input.tracestate);
    if let Some(text) = &out.text {
        assert!(json::is_valid(text), "not JSON after injection: {text}");
        if serde_json::from_str::<serde_json::Value>(input.text).is_ok() {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("serde_json refuses {text}: {e}"));
        }
        let back = message::extract(text, input.field, &fields);
        assert_eq!(back.parent, expected, "context read back from {text}");
        if !input.tracestate.is_empty() && expected.is_some() {
            assert_eq!(back.tracestate.as_deref(), Some(input.tracestate));
        }
    }
    let wrapped = message::envelope(input.text, input.field, &fields, &tp, input.tracestate, 1.0);
    let text = wrapped.text.expect("an envelope always has text");
    assert!(json::is_valid(&text), "envelope is not JSON: {text}");
    if !matches!(input.field, "data" | "ts") {
        assert_eq!(
            message::extract(&text, input.field, &fields).parent,
            expected,
            "context read back from {text}"
        );
    }
}

/// Reads fuzzed text with the SDK's JSON reader and with serde_json: what serde_json takes as
/// JSON (nested less than the reader's depth limit), the reader takes too, with the same keys
/// and the same string values.
pub fn json(text: &str) {
    let valid = json::is_valid(text);
    let members = json::object_members(text);
    let _ = json::string_value(text);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if depth(&value) > 100 {
        return;
    }
    assert!(valid, "serde_json takes what the SDK refuses: {text}");
    match &value {
        serde_json::Value::Object(map) => {
            let members = members.expect("an object has members");
            let keys: std::collections::BTreeSet<&str> =
                members.iter().map(|m| m.key.as_ref()).collect();
            let expected: std::collections::BTreeSet<&str> =
                map.keys().map(String::as_str).collect();
            assert_eq!(keys, expected, "keys of {text}");
        }
        serde_json::Value::String(s) => {
            let read = json::string_value(text.trim()).expect("a string");
            assert_eq!(read.as_ref(), s.as_str(), "string {text}");
        }
        _ => assert!(members.is_none()),
    }
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Parses fuzzed text as `traceparent`: what parses encodes back to a value that parses to
/// the same context, in the canonical 55-character form.
pub fn traceparent(text: &str) {
    if let Some(tp) = TraceParent::parse(text) {
        let encoded = tp.encode();
        assert_eq!(encoded.len(), 55);
        assert_eq!(TraceParent::parse(&encoded), Some(tp), "{text:?}");
        assert!(tp.trace_id.is_valid() && tp.span_id.is_valid());
    }
}
