//! Browser tests: run in headless Chromium by `wasm-bindgen-test-runner` against real servers
//! started by `scripts/test-sdk-wasm.sh` (a WebSocket echo/reply server, an HTTP server and a
//! collector process), whose addresses are compiled in through `option_env!`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;
use tracewire_sdk::{Config, Severity, TraceParent, TracedWebSocket, Tracewire};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// WebSocket server base URL (`ws://127.0.0.1:<port>`).
const WS: Option<&str> = option_env!("TW_TEST_WS");
/// HTTP test server (`http://127.0.0.1:<port>`), also the CORS gateway to the query API.
const HTTP: Option<&str> = option_env!("TW_TEST_HTTP");
/// Collector OTLP endpoint (`http://127.0.0.1:<port>`).
const OTLP: Option<&str> = option_env!("TW_TEST_OTLP");
/// A port nothing listens on (`http://127.0.0.1:<port>`), for the collector-down test.
const DEAD: Option<&str> = option_env!("TW_TEST_DEAD");

fn need(v: Option<&'static str>, name: &str) -> &'static str {
    v.unwrap_or_else(|| panic!("{name} not set at compile time: run scripts/test-sdk-wasm.sh"))
}

fn config(endpoint: &str) -> Config {
    let mut c = Config::new(endpoint, "sdk-browser-tests");
    c.service_version = Some("test".into());
    c.environment = Some("ci".into());
    // Flushes are explicit in these tests.
    c.flush_interval_ms = 600_000;
    c
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    JsFuture::from(p).await.expect("sleep");
}

/// Polls `check` every 20 ms for up to `ms`; panics with `what` on timeout.
async fn wait_for<T>(ms: i32, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let mut waited = 0;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(waited < ms, "timed out waiting for {what}");
        sleep(20).await;
        waited += 20;
    }
}

async fn http_get(url: &str) -> (u16, String) {
    let window = web_sys::window().expect("window");
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .expect("fetch")
        .dyn_into()
        .expect("response");
    let text = JsFuture::from(resp.text().expect("text"))
        .await
        .expect("body");
    (resp.status(), text.as_string().unwrap_or_default())
}

/// Reads a trace back from the collector's query API, waiting until it has `min_spans` spans.
async fn trace(trace_id: &str, min_spans: usize) -> Value {
    let url = format!(
        "{}/collector/api/traces/{trace_id}",
        need(HTTP, "TW_TEST_HTTP")
    );
    for _ in 0..100 {
        let (status, body) = http_get(&url).await;
        if status == 200 {
            let v: Value = serde_json::from_str(&body).expect("trace json");
            if v["spans"].as_array().is_some_and(|s| s.len() >= min_spans) {
                return v;
            }
        } else {
            assert_eq!(status, 404, "query API answered {status}: {body}");
        }
        sleep(100).await;
    }
    panic!("trace {trace_id} with {min_spans} spans never appeared");
}

/// Counter value from the collector's Prometheus metrics.
async fn metric(line_prefix: &str) -> f64 {
    let (_, text) = http_get(&format!("{}/collector/metrics", need(HTTP, "TW_TEST_HTTP"))).await;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(line_prefix)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

fn span_named<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no span {name:?} in {trace}"))
}

/// A traced socket plus everything it received.
struct Conn {
    ws: TracedWebSocket,
    received: Rc<RefCell<Vec<JsValue>>>,
    open: Rc<RefCell<bool>>,
}

async fn connect(path: &str) -> Conn {
    let ws = TracedWebSocket::new(&format!("{}{path}", need(WS, "TW_TEST_WS"))).expect("socket");
    ws.socket()
        .set_binary_type(web_sys::BinaryType::Arraybuffer);
    let received = Rc::new(RefCell::new(Vec::new()));
    let open = Rc::new(RefCell::new(false));
    let r = received.clone();
    ws.set_on_message(move |ev| r.borrow_mut().push(ev.data()));
    let o = open.clone();
    ws.set_on_open(move |_| *o.borrow_mut() = true);
    wait_for(5000, "socket open", || open.borrow().then_some(())).await;
    Conn { ws, received, open }
}

impl Conn {
    async fn next(&self, n: usize) -> JsValue {
        wait_for(5000, "message", || self.received.borrow().get(n).cloned()).await
    }
}

#[wasm_bindgen_test]
async fn injected_traceparent_is_valid_w3c_and_matches_the_exported_spans() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let conn = connect("/echo?token=secret").await;
    conn.ws
        .send_text(r#"{"type":"chat","text":"hi"}"#)
        .expect("send");
    // The echo server returns exactly what went over the wire.
    let wire = conn.next(0).await.as_string().expect("text");
    let v: Value = serde_json::from_str(&wire).expect("still JSON");
    assert_eq!(v["type"], "chat");
    assert_eq!(v["text"], "hi");
    let tp_text = v["trace_context"]["traceparent"]
        .as_str()
        .expect("traceparent")
        .to_owned();
    assert_eq!(tp_text.len(), 55);
    assert!(
        tp_text
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c) || c == b'-')
    );
    let tp = TraceParent::parse(&tp_text).expect("valid W3C traceparent");
    assert!(tp.sampled());
    assert_eq!(tp.to_string(), tp_text);

    tw.flush().await;
    let t = trace(&tp.trace_id.to_hex(), 3).await;
    let send = span_named(&t, "ws.send chat");
    assert_eq!(
        send["span_id"],
        tp.span_id.to_hex(),
        "traceparent names the send span"
    );
    assert_eq!(send["kind"], "Producer");
    assert_eq!(send["service_name"], "sdk-browser-tests");
    assert_eq!(
        send["attributes"]["url.full"],
        format!("{}/echo", need(WS, "TW_TEST_WS")),
        "query stripped"
    );
    assert_eq!(send["attributes"]["ws.message.type"], "chat");
    assert_eq!(
        send["attributes"]["messaging.message.body.size"],
        wire.len().to_string()
    );
    assert!(
        send["attributes"]["ws.rtt_ms"].as_str().is_some(),
        "round-trip time recorded: {send}"
    );
    assert_eq!(
        send["resource_attributes"]["telemetry.sdk.language"],
        "webjs"
    );
    assert_eq!(send["resource_attributes"]["deployment.environment"], "ci");
    assert!(
        send["attributes"]["session.id"]
            .as_str()
            .is_some_and(|s| s.len() == 32)
    );

    // The echo carries the same context back: its receive span continues the trace.
    let recv = span_named(&t, "ws.receive chat");
    assert_eq!(recv["kind"], "Consumer");
    assert_eq!(recv["parent_span_id"], tp.span_id.to_hex());
    let process = span_named(&t, "ws.process chat");
    assert_eq!(process["parent_span_id"], recv["span_id"]);
    tw.shutdown().await;
    assert!(conn.open.borrow().to_owned());
}

#[wasm_bindgen_test]
async fn a_reply_carrying_server_context_yields_a_receive_span_in_the_same_trace() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let conn = connect("/reply").await;
    conn.ws
        .send_json(&serde_json::json!({"op": "subscribe", "topic": "agents"}))
        .expect("send");
    let reply: Value =
        serde_json::from_str(&conn.next(0).await.as_string().expect("text")).expect("json");
    assert_eq!(reply["type"], "message.reply");
    let server_ctx =
        TraceParent::parse(reply["trace_context"]["traceparent"].as_str().expect("ctx"))
            .expect("valid");
    tw.flush().await;
    let t = trace(&server_ctx.trace_id.to_hex(), 3).await;
    let send = span_named(&t, "ws.send subscribe");
    let recv = span_named(&t, "ws.receive message.reply");
    assert_eq!(
        recv["parent_span_id"], reply["server_span_id"],
        "child of the server's span"
    );
    assert_eq!(recv["trace_id"], send["trace_id"]);
    assert!(
        send["attributes"]["ws.rtt_ms"].as_str().is_some(),
        "matched by trace id: {send}"
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn non_json_text_and_binary_pass_byte_identical_and_are_still_recorded() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let conn = connect("/echo").await;
    let parent = tw.start_span("batch of odd messages");
    let texts = [
        "plain text with é and 😀",
        "[1, 2, 3]",
        "{not json",
        "  {\"type\":\"x\"}  extra",
        "",
    ];
    for t in texts {
        conn.ws.send_text(t).expect("send text");
    }
    let bytes: Vec<u8> = (0..=255).collect();
    conn.ws.send_bytes(&bytes).expect("send bytes");
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(
            conn.next(i).await.as_string().as_deref(),
            Some(*t),
            "text {i} unchanged"
        );
    }
    let echoed = js_sys::Uint8Array::new(&conn.next(texts.len()).await).to_vec();
    assert_eq!(echoed, bytes);
    let trace_id = parent.traceparent()[3..35].to_owned();
    parent.end();
    tw.flush().await;
    let t = trace(&trace_id, 1 + texts.len() + 1).await;
    let sends: Vec<&Value> = t["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|s| s["name"] == "ws.send")
        .collect();
    assert_eq!(sends.len(), texts.len() + 1);
    assert!(
        sends
            .iter()
            .all(|s| s["attributes"]["ws.context_injected"] == "false")
    );
    let binary = sends
        .iter()
        .find(|s| s["attributes"]["ws.message.format"] == "binary")
        .expect("binary send span");
    assert_eq!(binary["attributes"]["messaging.message.body.size"], "256");
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn the_page_send_still_works_when_the_collector_is_down() {
    let mut c = config(need(DEAD, "TW_TEST_DEAD"));
    c.max_export_attempts = 2;
    c.retry_initial_ms = 10;
    c.retry_max_ms = 20;
    let tw = Tracewire::start(c).expect("start");
    let conn = connect("/echo").await;
    for i in 0..5 {
        conn.ws
            .send_json(&serde_json::json!({"type": "ping", "n": i}))
            .expect("send");
    }
    for i in 0..5 {
        let v: Value =
            serde_json::from_str(&conn.next(i).await.as_string().expect("text")).expect("json");
        assert_eq!(v["n"], i);
    }
    tw.flush().await;
    let stats = tw.stats();
    assert_eq!(stats.exported, 0);
    assert!(
        stats.dropped_export_failed >= 10,
        "5 sends + 5 receives + process spans counted: {stats:?}"
    );
    assert_eq!(
        stats.requests, 2,
        "one batch, tried twice (network error is retryable)"
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn batches_reach_a_real_collector_and_read_back_through_its_query_api() {
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.max_batch_items = 100;
    // The key travels as a header: the collector's CORS preflight must allow it.
    c.ingest_key = Some("test-ingest-key".into());
    let tw = Tracewire::start(c).expect("start");
    tw.set_user(Some("user-42"));
    let mut ids = Vec::new();
    for i in 0..450 {
        let span = tw.start_span("checkout");
        span.set_attribute("step", i64::from(i));
        span.set_attribute(
            "note",
            format!("mail ada@example.com, Bearer abcdef123456 #{i}"),
        );
        span.set_attribute("user.password", "hunter2");
        ids.push(span.traceparent()[3..35].to_owned());
        span.end();
    }
    tw.flush().await;
    let stats = tw.stats();
    assert_eq!(stats.exported, 450);
    assert!(
        stats.compressed_requests >= 5,
        "bodies over 1 KiB are gzipped: {stats:?}"
    );
    assert!(stats.requests >= 5, "split into batches of 100: {stats:?}");
    for (i, id) in [(0, &ids[0]), (449, &ids[449])] {
        let t = trace(id, 1).await;
        let s = span_named(&t, "checkout");
        assert_eq!(s["attributes"]["step"], i.to_string());
        assert_eq!(
            s["attributes"]["note"],
            format!("mail [REDACTED_EMAIL], Bearer [REDACTED] #{i}")
        );
        assert_eq!(s["attributes"]["user.password"], "[REDACTED]");
        assert_eq!(s["attributes"]["user.id"], "user-42");
        assert_eq!(
            s["resource_attributes"]["service.name"],
            "sdk-browser-tests"
        );
        assert_eq!(s["resource_attributes"]["service.version"], "test");
        assert_eq!(
            s["resource_attributes"]["telemetry.sdk.name"],
            "tracewire-sdk"
        );
        assert!(
            s["resource_attributes"]["user_agent.original"]
                .as_str()
                .is_some_and(|ua| ua.contains("Chrome"))
        );
    }
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn keepalive_budget_holds_with_many_pending_events() {
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    // Page-exit requests carry the key as `?key=`, since beacons cannot set headers.
    c.ingest_key = Some("test-ingest-key".into());
    let tw = Tracewire::start(c).expect("start");
    let total = 1500;
    let mut first_last = Vec::new();
    for i in 0..total {
        let span = tw.start_span("pending");
        // Multi-byte text: the budget must count UTF-8 bytes, not characters.
        span.set_attribute(
            "payload",
            format!("{i} ééééééééééééééééééééééééééééééééééééééééé"),
        );
        if i == 0 || i == total - 1 {
            first_last.push(span.traceparent()[3..35].to_owned());
        }
        span.end();
    }
    // What the browser does on tab close.
    let window = web_sys::window().expect("window");
    window
        .dispatch_event(&web_sys::Event::new("pagehide").expect("event"))
        .expect("dispatch");
    let stats = tw.stats();
    assert!(stats.keepalive_requests >= 1);
    assert!(stats.keepalive_max_bytes_in_flight <= 60_000, "{stats:?}");
    assert!(
        stats.keepalive_max_bytes_in_flight > 48_000,
        "budget used well (small requests pack it): {stats:?}"
    );
    assert!(stats.keepalive_max_in_flight <= 9, "{stats:?}");
    assert!(
        stats.beacons + stats.beacon_failures >= 1,
        "the rest went to beacons: {stats:?}"
    );
    wait_for(10_000, "keepalive requests to finish", || {
        (tw.stats().keepalive_in_flight == 0).then_some(())
    })
    .await;
    let stats = tw.stats();
    console_log!("page-exit delivery of {total} spans: {stats:?}");
    assert_eq!(
        stats.keepalive_failures, 0,
        "no keepalive request over budget was refused: {stats:?}"
    );
    assert_eq!(
        (
            stats.exported_on_exit + stats.carried_over,
            stats.dropped_export_failed
        ),
        (total, 0),
        "every item is delivered or kept for the next page load: {stats:?}"
    );
    // The first items went by keepalive fetch and are stored.
    trace(&first_last[0], 1).await;
    tw.shutdown().await;
    drop(tw);

    // The next page load sends what the browser refused at exit (Chromium's beacons share the
    // keepalive budget, so with this backlog most of it).
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("next page load");
    tw.flush().await;
    let next = tw.stats();
    assert_eq!(next.carried_in, stats.carried_over, "{next:?}");
    trace(&first_last[1], 1).await;
    tw.shutdown().await;
}

#[wasm_bindgen(inline_js = r#"
export function pageCodeOpensSocket(url) {
  // Code that never heard of the SDK: plain `new WebSocket`, onmessage and addEventListener.
  const ws = new WebSocket(url);
  const got = { messages: [], listener: 0 };
  ws.onmessage = (e) => { got.messages.push(e.data); };
  ws.addEventListener('message', () => { got.listener += 1; });
  ws.onopen = () => ws.send(JSON.stringify({ action: 'hello', from: 'page' }));
  got.socket = ws;
  return got;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = pageCodeOpensSocket)]
    fn page_code_opens_socket(url: &str) -> JsValue;
}

#[wasm_bindgen_test]
async fn instrument_websockets_catches_a_socket_created_by_code_unaware_of_the_sdk() {
    let window = web_sys::window().expect("window");
    let original = js_sys::Reflect::get(&window, &"WebSocket".into()).expect("WebSocket");
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    tw.instrument_websockets().expect("patch");
    assert_ne!(
        js_sys::Reflect::get(&window, &"WebSocket".into()).expect("patched"),
        original
    );

    let got = page_code_opens_socket(&format!("{}/echo", need(WS, "TW_TEST_WS")));
    let messages: js_sys::Array = js_sys::Reflect::get(&got, &"messages".into())
        .expect("messages")
        .unchecked_into();
    wait_for(5000, "echo to page code", || {
        (messages.length() > 0).then_some(())
    })
    .await;
    let wire: Value =
        serde_json::from_str(&messages.get(0).as_string().expect("text")).expect("json");
    assert_eq!(wire["action"], "hello");
    let tp = TraceParent::parse(
        wire["trace_context"]["traceparent"]
            .as_str()
            .expect("injected"),
    )
    .expect("valid");
    let socket = js_sys::Reflect::get(&got, &"socket".into()).expect("socket");
    assert!(
        socket.is_instance_of::<web_sys::WebSocket>(),
        "still a WebSocket to the page"
    );
    wait_for(2000, "addEventListener listener", || {
        (js_sys::Reflect::get(&got, &"listener".into())
            .ok()?
            .as_f64()?
            >= 1.0)
            .then_some(())
    })
    .await;

    tw.flush().await;
    let t = trace(&tp.trace_id.to_hex(), 4).await;
    assert_eq!(
        span_named(&t, "ws.send hello")["span_id"],
        tp.span_id.to_hex()
    );
    span_named(&t, "ws.receive hello");
    let processes = t["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|s| s["name"] == "ws.process hello")
        .count();
    assert_eq!(
        processes, 2,
        "onmessage and the addEventListener listener are both timed"
    );

    tw.uninstrument_websockets();
    assert_eq!(
        js_sys::Reflect::get(&window, &"WebSocket".into()).expect("restored"),
        original
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn fetch_to_an_allowed_origin_carries_traceparent_and_records_a_client_span() {
    let http = need(HTTP, "TW_TEST_HTTP");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.propagate_to_origins = vec![http.to_owned()];
    let tw = Tracewire::start(c).expect("start");
    tw.instrument_fetch().expect("patch fetch");
    let (status, body) = http_get(&format!("{http}/headers?secret=1")).await;
    assert_eq!(status, 200);
    let headers: Value = serde_json::from_str(&body).expect("json");
    let tp = TraceParent::parse(headers["traceparent"].as_str().expect("traceparent sent"))
        .expect("valid");
    tw.uninstrument_fetch();
    // Not instrumented any more: no header.
    let (_, body) = http_get(&format!("{http}/headers")).await;
    assert!(
        serde_json::from_str::<Value>(&body)
            .expect("json")
            .get("traceparent")
            .is_none()
    );
    tw.flush().await;
    let t = trace(&tp.trace_id.to_hex(), 1).await;
    let span = span_named(&t, "GET");
    assert_eq!(span["kind"], "Client");
    assert_eq!(span["span_id"], tp.span_id.to_hex());
    assert_eq!(span["attributes"]["http.response.status_code"], "200");
    assert_eq!(span["attributes"]["url.full"], format!("{http}/headers"));
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn fetch_to_other_origins_gets_no_traceparent() {
    let http = need(HTTP, "TW_TEST_HTTP");
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    tw.instrument_fetch().expect("patch fetch");
    let (_, body) = http_get(&format!("{http}/headers")).await;
    assert!(
        serde_json::from_str::<Value>(&body)
            .expect("json")
            .get("traceparent")
            .is_none()
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn unhandled_rejections_are_exported_as_error_logs() {
    let before = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let _ = js_sys::eval("Promise.reject(new TypeError('boom for the test')); undefined")
        .expect("eval");
    wait_for(2000, "rejection recorded", || {
        let st = tw.stats();
        (st.queued == 1).then_some(())
    })
    .await;
    tw.flush().await;
    assert_eq!(tw.stats().exported, 1);
    let after = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    assert_eq!(after - before, 1.0);
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn session_id_survives_a_restart_in_the_same_tab() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let id = tw.session_id();
    assert_eq!(id.len(), 32);
    tw.shutdown().await;
    drop(tw);
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("restart");
    assert_eq!(tw.session_id(), id);
    tw.shutdown().await;
}

#[wasm_bindgen_test]
fn invalid_config_is_rejected_with_the_field_name() {
    let mut c = config("http://127.0.0.1:1");
    c.sample_rate = 2.0;
    let err = Tracewire::start(c).err().expect("rejected");
    assert!(err.to_string().contains("sampleRate"), "{err}");
}

#[wasm_bindgen_test]
async fn traced_socket_is_not_traced_twice_while_window_websocket_is_patched() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    tw.instrument_websockets().expect("patch");
    let conn = connect("/echo").await;
    conn.ws.send_text(r#"{"type":"once"}"#).expect("send");
    let wire: Value =
        serde_json::from_str(&conn.next(0).await.as_string().expect("text")).expect("json");
    let tp = TraceParent::parse(wire["trace_context"]["traceparent"].as_str().expect("ctx"))
        .expect("valid");
    tw.flush().await;
    let t = trace(&tp.trace_id.to_hex(), 3).await;
    let names: Vec<&str> = t["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ws.send once").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "ws.receive once").count(),
        1,
        "{names:?}"
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn unsampled_traces_propagate_flags_00_and_export_nothing_but_errors() {
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.sample_rate = 0.0;
    let tw = Tracewire::start(c).expect("start");
    let conn = connect("/echo").await;
    conn.ws.send_text(r#"{"type":"unsampled"}"#).expect("send");
    let wire: Value =
        serde_json::from_str(&conn.next(0).await.as_string().expect("text")).expect("json");
    let tp = TraceParent::parse(
        wire["trace_context"]["traceparent"]
            .as_str()
            .expect("still injected"),
    )
    .expect("valid");
    assert!(
        !tp.sampled(),
        "flags 00 tell the server not to record either"
    );
    let _ = js_sys::eval("Promise.reject(new Error('kept although unsampled')); undefined")
        .expect("eval");
    wait_for(2000, "rejection recorded", || {
        (tw.stats().queued == 1).then_some(())
    })
    .await;
    tw.flush().await;
    assert_eq!(
        tw.stats().exported,
        2,
        "only the error record and the count of the two messages (ws.message_rate)"
    );
    let (status, _) = http_get(&format!(
        "{}/collector/api/traces/{}",
        need(HTTP, "TW_TEST_HTTP"),
        tp.trace_id.to_hex()
    ))
    .await;
    assert_eq!(status, 404);
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn connection_lifecycle_records_connect_close_and_reconnects() {
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    let parent = tw.start_span("two connections");
    let trace_id = parent.traceparent()[3..35].to_owned();
    for round in 0..2 {
        let conn = connect("/echo?attempt=x").await;
        conn.ws.send_text("ping").expect("send");
        conn.next(0).await;
        let closed = Rc::new(RefCell::new(false));
        let c = closed.clone();
        conn.ws.set_on_close(move |_| *c.borrow_mut() = true);
        conn.ws
            .socket()
            .close_with_code_and_reason(4001, "done")
            .expect("close");
        wait_for(5000, "close", || closed.borrow().then_some(())).await;
        assert!(round < 2);
    }
    parent.end();
    tw.flush().await;
    let t = trace(&trace_id, 5).await;
    let spans = t["spans"].as_array().expect("spans");
    let mut connects: Vec<&str> = spans
        .iter()
        .filter(|s| s["name"] == "ws.connect")
        .filter_map(|s| s["attributes"]["ws.reconnect_count"].as_str())
        .collect();
    connects.sort_unstable();
    assert_eq!(connects, vec!["0", "1"]);
    let close = span_named(&t, "ws.close");
    assert_eq!(close["attributes"]["ws.close.code"], "4001");
    assert_eq!(close["attributes"]["ws.close.reason"], "done");
    assert_eq!(close["attributes"]["ws.close.was_clean"], "true");
    assert_eq!(close["attributes"]["ws.messages.sent"], "1");
    assert!(
        close["attributes"]["ws.buffered_amount.max"]
            .as_str()
            .is_some_and(|v| v != "0")
    );
    assert!(
        span_named(&t, "ws.connect")["attributes"]["ws.handshake_ms"]
            .as_str()
            .is_some()
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn window_error_events_are_exported_as_error_logs_with_exception_attributes() {
    let before = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    // What the browser dispatches for an uncaught exception (dispatched here so the test page
    // itself does not see an uncaught error).
    let _ = js_sys::eval(
        "window.dispatchEvent(new ErrorEvent('error', { message: 'Uncaught RangeError: bad', \
         filename: location.href + '?q=secret', lineno: 7, colno: 3, error: new RangeError('bad for ada@example.com') })); undefined",
    )
    .expect("eval");
    assert_eq!(tw.stats().queued, 1);
    tw.flush().await;
    assert_eq!(tw.stats().exported, 1);
    let after = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    assert_eq!(after - before, 1.0);
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_503_with_retry_after_is_retried_after_the_delay_the_server_asked_for() {
    let http = need(HTTP, "TW_TEST_HTTP");
    let id = format!("flaky{}", js_sys::Date::now() as u64);
    let mut c = config(&format!("{http}/flaky/{id}"));
    // The schedule alone would retry after ~10 ms; the server's Retry-After (1 s) must win.
    c.retry_initial_ms = 10;
    c.retry_max_ms = 20;
    let tw = Tracewire::start(c).expect("start");
    tw.start_span("retried").end();
    tw.flush().await;
    let stats = tw.stats();
    assert_eq!(
        (stats.requests, stats.exported, stats.dropped_export_failed),
        (2, 1, 0),
        "{stats:?}"
    );
    let (_, body) = http_get(&format!("{http}/requests/{id}")).await;
    let seen: Value = serde_json::from_str(&body).expect("json");
    let times = seen["times"].as_array().expect("times");
    let gap = times[1].as_f64().expect("t1") - times[0].as_f64().expect("t0");
    assert!(gap >= 0.95, "retried after {gap} s, Retry-After said 1 s");
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_400_is_not_retried_and_the_batch_is_counted_as_dropped() {
    let http = need(HTTP, "TW_TEST_HTTP");
    let mut c = config(&format!("{http}/status/400"));
    c.retry_initial_ms = 10;
    c.retry_max_ms = 20;
    let tw = Tracewire::start(c).expect("start");
    tw.start_span("rejected").end();
    tw.start_span("rejected too").end();
    tw.flush().await;
    let stats = tw.stats();
    assert_eq!(
        (stats.requests, stats.exported, stats.dropped_export_failed),
        (1, 0, 2),
        "{stats:?}"
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_fetch_flood_becomes_a_capped_number_of_spans_plus_one_rate_record() {
    let http = need(HTTP, "TW_TEST_HTTP");
    let logs_before = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    let spans_before = metric(r#"tracewire_accepted_items_total{signal="traces"}"#).await;
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.fetch_spans_per_route = 5;
    let tw = Tracewire::start(c).expect("start");
    tw.instrument_fetch().expect("patch fetch");
    // A fallback poll loop hammering one endpoint (ids in the path fold into one route).
    for i in 0..30 {
        let (status, _) = http_get(&format!("{http}/headers/{}?poll={i}", 1000 + i % 3)).await;
        assert_eq!(status, 200);
    }
    tw.uninstrument_fetch();
    tw.flush().await;
    assert_eq!(tw.stats().exported, 6, "5 spans and 1 request-rate record");
    let logs = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await - logs_before;
    let spans = metric(r#"tracewire_accepted_items_total{signal="traces"}"#).await - spans_before;
    assert_eq!((spans, logs), (5.0, 1.0));
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn events_are_exported_as_log_records() {
    let before = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    tw.event("cart.updated", vec![("items".into(), 3i64.into())]);
    tw.flush().await;
    assert_eq!(tw.stats().exported, 1);
    assert_eq!(
        metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await - before,
        1.0
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn rust_api_logs_are_exported_as_log_records_in_the_active_spans_trace() {
    let before = metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await;
    let tw = Tracewire::start(config(need(OTLP, "TW_TEST_OTLP"))).expect("start");
    tw.log(Severity::Info, "outside", vec![]);
    let span = tw.start_span("with logs");
    tw.log(
        Severity::Fatal,
        "inside",
        vec![("password".into(), "hunter2".into())],
    );
    span.end();
    assert_eq!(tw.stats().queued, 3, "two logs and the span");
    tw.flush().await;
    assert_eq!(tw.stats().exported, 3);
    assert_eq!(
        metric(r#"tracewire_accepted_items_total{signal="logs"}"#).await - before,
        2.0
    );
    tw.shutdown().await;
}

/// The spans of `trace` named `name`, by `ws.message.sequence`.
fn by_sequence<'a>(trace: &'a Value, name: &str) -> Vec<(String, &'a Value)> {
    let mut spans: Vec<(String, &Value)> = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|s| s["name"] == name)
        .map(|s| {
            let seq = s["attributes"]["ws.message.sequence"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} without ws.message.sequence: {s}"));
            (seq.to_owned(), s)
        })
        .collect();
    spans.sort_by(|a, b| a.0.cmp(&b.0));
    spans
}

/// The context a `/handshake` socket's first message reports: the `traceparent` query
/// parameter of the request target the server saw.
fn handshake_traceparent(target: &str) -> TraceParent {
    let value = target
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("traceparent="))
        .unwrap_or_else(|| panic!("no traceparent in the handshake {target:?}"));
    TraceParent::parse(value).expect("valid W3C traceparent")
}

/// Checks what a payload-free connection exported: `ws.connect` is the span the handshake
/// named, and every message span is its child with its sequence and the connection's span id.
fn assert_payload_free_spans(t: &Value, tp: &TraceParent, sends: &[&str], receives: &[&str]) {
    let connect = span_named(t, "ws.connect");
    assert_eq!(
        connect["span_id"],
        tp.span_id.to_hex(),
        "the handshake URL named the exported ws.connect span"
    );
    for (names, expected) in [(sends, "send"), (receives, "receive")] {
        let mut got: Vec<(String, String)> = t["spans"]
            .as_array()
            .expect("spans")
            .iter()
            .filter(|s| s["attributes"]["messaging.operation.type"] == expected)
            .map(|s| {
                assert_eq!(s["parent_span_id"], tp.span_id.to_hex(), "child of C: {s}");
                assert_eq!(
                    s["attributes"]["ws.connection.span_id"],
                    tp.span_id.to_hex(),
                    "{s}"
                );
                assert_ne!(s["attributes"]["ws.context_injected"], "true", "{s}");
                (
                    s["attributes"]["ws.message.sequence"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no sequence: {s}"))
                        .to_owned(),
                    s["name"].as_str().expect("name").to_owned(),
                )
            })
            .collect();
        got.sort();
        let want: Vec<(String, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ((i + 1).to_string(), (*n).to_owned()))
            .collect();
        assert_eq!(got, want, "{expected} spans numbered from 1");
    }
}

/// A protobuf-like frame (field 1 varint 150, field 2 bytes "abc") and a JSON text a strict
/// server would reject with any member added.
const FRAME: [u8; 8] = [0x08, 0x96, 0x01, 0x12, 0x03, b'a', b'b', b'c'];
const STRICT: &str = r#"{"type":"quote","symbol":"ACME","px":1.25}"#;

#[wasm_bindgen_test]
async fn payload_free_socket_sends_messages_unchanged_and_puts_the_connect_context_in_the_handshake()
 {
    let ws_base = need(WS, "TW_TEST_WS");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.payload_free_urls = vec![format!("{ws_base}/handshake*")];
    // Payload-free wins where an envelope pattern matches too: nothing is wrapped.
    c.envelope_urls = vec!["*".into()];
    let tw = Tracewire::start(c).expect("start");
    let mut seen = Vec::new();
    for round in 0..2 {
        let conn = connect("/handshake?room=7").await;
        let target = conn.next(0).await.as_string().expect("handshake target");
        assert!(
            target.starts_with("/handshake?room=7&traceparent="),
            "{target}"
        );
        let tp = handshake_traceparent(&target);
        assert!(tp.sampled());
        assert_eq!(
            conn.ws.socket().url(),
            format!("{ws_base}/handshake?room=7"),
            "the page sees the URL it opened"
        );
        conn.ws.send_bytes(&FRAME).expect("send binary");
        conn.ws.send_text(STRICT).expect("send strict JSON");
        let echoed = js_sys::Uint8Array::new(&conn.next(1).await).to_vec();
        assert_eq!(echoed, FRAME, "binary byte for byte");
        assert_eq!(
            conn.next(2).await.as_string().as_deref(),
            Some(STRICT),
            "JSON text byte for byte"
        );
        tw.flush().await;
        let t = trace(&tp.trace_id.to_hex(), 6).await;
        assert_payload_free_spans(
            &t,
            &tp,
            &["ws.send", "ws.send quote"],
            &["ws.receive", "ws.receive", "ws.receive quote"],
        );
        let sends = by_sequence(&t, "ws.send");
        assert_eq!(sends[0].1["attributes"]["ws.message.format"], "binary");
        assert_eq!(sends[0].1["attributes"]["messaging.message.body.size"], "8");
        // A reconnect is a new connection: a new context, counters from 1 (checked above).
        assert!(!seen.contains(&tp.trace_id), "round {round}: a new trace");
        seen.push(tp.trace_id);
        conn.ws.close(None, None).expect("close");
    }
    tw.shutdown().await;
}

#[wasm_bindgen(inline_js = r#"
export function pageCodeOpensBinarySocket(url, frame, text) {
  // Page code unaware of the SDK, with a binary protocol and a strict JSON one.
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const got = { messages: [], socket: ws };
  ws.onmessage = (e) => { got.messages.push(e.data); };
  ws.onopen = () => { ws.send(frame); ws.send(text); };
  return got;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = pageCodeOpensBinarySocket)]
    fn page_code_opens_binary_socket(url: &str, frame: &js_sys::Uint8Array, text: &str) -> JsValue;
}

#[wasm_bindgen_test]
async fn patched_websocket_keeps_payload_free_messages_and_the_page_url_unchanged() {
    let ws_base = need(WS, "TW_TEST_WS");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.payload_free_urls = vec!["ws://*/handshake".into()];
    let tw = Tracewire::start(c).expect("start");
    tw.instrument_websockets().expect("patch");
    let url = format!("{ws_base}/handshake");
    let got = page_code_opens_binary_socket(&url, &js_sys::Uint8Array::from(&FRAME[..]), STRICT);
    let messages: js_sys::Array = js_sys::Reflect::get(&got, &"messages".into())
        .expect("messages")
        .unchecked_into();
    wait_for(5000, "handshake target and two echoes", || {
        (messages.length() >= 3).then_some(())
    })
    .await;
    let target = messages.get(0).as_string().expect("handshake target");
    let tp = handshake_traceparent(&target);
    assert_eq!(target, format!("/handshake?traceparent={tp}"));
    assert_eq!(js_sys::Uint8Array::new(&messages.get(1)).to_vec(), FRAME);
    assert_eq!(messages.get(2).as_string().as_deref(), Some(STRICT));
    let socket = js_sys::Reflect::get(&got, &"socket".into()).expect("socket");
    assert_eq!(
        js_sys::Reflect::get(&socket, &"url".into()).expect("url"),
        JsValue::from_str(&url),
        "socket.url is the page's own URL"
    );
    assert!(socket.is_instance_of::<web_sys::WebSocket>());

    tw.flush().await;
    let t = trace(&tp.trace_id.to_hex(), 6).await;
    assert_payload_free_spans(
        &t,
        &tp,
        &["ws.send", "ws.send quote"],
        &["ws.receive", "ws.receive", "ws.receive quote"],
    );
    // The listener's run is still timed, under its receive span.
    let receives = by_sequence(&t, "ws.receive quote");
    let process = span_named(&t, "ws.process quote");
    assert_eq!(process["parent_span_id"], receives[0].1["span_id"]);
    tw.uninstrument_websockets();
    tw.shutdown().await;
}

/// A service name of its own, so a test reads back only its records.
fn unique_service(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Date::now() as u64)
}

/// The `ws.message_rate` records of `service`, once at least `min` are stored.
async fn message_rates(service: &str, min: usize) -> Vec<Value> {
    let url = format!(
        "{}/collector/api/logs?service={service}&limit=1000",
        need(HTTP, "TW_TEST_HTTP")
    );
    for _ in 0..100 {
        let (status, body) = http_get(&url).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("logs json");
        let rates: Vec<Value> = v["logs"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|r| r["event_name"] == "ws.message_rate")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if rates.len() >= min {
            return rates;
        }
        sleep(100).await;
    }
    panic!("{min} ws.message_rate records of {service} never appeared");
}

/// An integer attribute of a stored record (the query API gives attribute values as text).
fn int_attr(record: &Value, key: &str) -> u64 {
    let v = &record["attributes"][key];
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no integer {key} in {record}"))
}

/// The round trips counted in a `ws.counted.rtt` value (`k:n k:n ...`), checking its form.
fn rtt_round_trips(rtt: &str) -> u64 {
    let mut last = None;
    rtt.split(' ')
        .map(|pair| {
            let (k, n) = pair.split_once(':').expect("k:n");
            let k: u32 = k.parse().expect("bin");
            assert!(last < Some(k), "bins ascending: {rtt}");
            last = Some(k);
            n.parse::<u64>().expect("count")
        })
        .sum()
}

#[wasm_bindgen_test]
async fn a_high_rate_socket_keeps_an_allowance_of_spans_and_counts_every_other_message() {
    const MESSAGES: usize = 3_000;
    let service = unique_service("sdk-counting");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.service_name = service.clone();
    c.ws_spans_per_type = 10;
    c.ws_trace_one_in = 100;
    // Reported by the flush below, not by the timer.
    c.ws_rate_interval_ms = 600_000;
    let tw = Tracewire::start(c).expect("start");
    let conn = connect("/echo").await;
    for i in 0..MESSAGES {
        conn.ws
            .send_text(&format!(r#"{{"type":"tick","n":{i}}}"#))
            .expect("send");
    }
    conn.next(MESSAGES - 1).await;
    // The echo shows what went over the wire: every send carries a context, and the counted
    // ones say "not sampled".
    let mut traced = Vec::new();
    let mut unsampled = 0;
    for data in conn.received.borrow().iter() {
        let v: Value = serde_json::from_str(&data.as_string().expect("text")).expect("json");
        let tp = TraceParent::parse(v["trace_context"]["traceparent"].as_str().expect("context"))
            .expect("valid");
        if tp.sampled() {
            traced.push(tp);
        } else {
            unsampled += 1;
        }
    }
    assert_eq!(traced.len(), 10 + 29, "10 allowed, then 1 in 100 of 2,990");
    assert_eq!(
        unsampled,
        MESSAGES - traced.len(),
        "counted sends go out with flags 00"
    );
    tw.flush().await;
    let stats = tw.stats();
    assert_eq!(
        (stats.dropped_queue_full, stats.dropped_export_failed),
        (0, 0),
        "{stats:?}"
    );

    let rates = message_rates(&service, 1).await;
    assert_eq!(rates.len(), 1, "one socket, one type: {rates:?}");
    let r = &rates[0];
    assert_eq!(r["severity_text"], "INFO");
    assert_eq!(
        r["attributes"]["url.full"],
        format!("{}/echo", need(WS, "TW_TEST_WS"))
    );
    assert_eq!(r["attributes"]["ws.message.type"], "tick");
    let counted = int_attr(r, "ws.counted.sent");
    assert_eq!(
        counted as usize + traced.len(),
        MESSAGES,
        "spans + counts = all sends"
    );
    assert_eq!(
        int_attr(r, "ws.counted.received"),
        counted,
        "echoes of counted sends"
    );
    assert_eq!(int_attr(r, "ws.counted.traced"), 29);
    assert_eq!(int_attr(r, "ws.counted.errors"), 0);
    assert!(int_attr(r, "ws.counted.sent_bytes") > counted * 60, "{r}");
    assert!(int_attr(r, "tracewire.interval_ms") < 600_000);
    assert_eq!(
        r["body"],
        format!(
            "{} messages counted on {}/echo",
            2 * counted,
            need(WS, "TW_TEST_WS")
        )
    );
    // Round trips of the counted sends still waiting when their echo came back (the last 256
    // sent, as all were sent before the first echo arrived; at least those).
    let rtt = r["attributes"]["ws.counted.rtt"]
        .as_str()
        .expect("rtt bins");
    let round_trips = rtt_round_trips(rtt);
    assert!((1..=counted).contains(&round_trips), "{rtt}");

    // Every traced example is a real send span with its echo traced too.
    for tp in [traced[0], traced[10], traced[38]] {
        let t = trace(&tp.trace_id.to_hex(), 3).await;
        let send = span_named(&t, "ws.send tick");
        assert_eq!(send["span_id"], tp.span_id.to_hex());
        assert_eq!(
            span_named(&t, "ws.receive tick")["parent_span_id"],
            send["span_id"]
        );
    }
    tw.shutdown().await;
}

#[wasm_bindgen(inline_js = r#"
export function pageCodeAnswersPings(url, pings) {
  // Page code unaware of the SDK: answers every ping with a pong, and its pong listener throws
  // (the errors are the page's; the test page does not count them as its own).
  window.addEventListener('error', (e) => { if (String(e.message).includes('pong listener')) e.preventDefault(); });
  const ws = new WebSocket(url);
  const got = { wire: [] };
  ws.addEventListener('message', (e) => {
    got.wire.push(e.data);
    const m = JSON.parse(e.data);
    if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong', n: m.n }));
    if (m.type === 'pong') throw new Error('pong listener failed');
  });
  ws.onopen = () => { for (let n = 0; n < pings; n++) ws.send(JSON.stringify({ type: 'ping', n })); };
  return got;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = pageCodeAnswersPings)]
    fn page_code_answers_pings(url: &str, pings: u32) -> JsValue;
}

#[wasm_bindgen_test]
async fn counted_receives_count_their_listeners_errors_and_the_sends_they_make() {
    let service = unique_service("sdk-counting-listeners");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.service_name = service.clone();
    c.capture_errors = false;
    // Nothing gets a span: every message is counted.
    c.ws_spans_per_type = 0;
    c.ws_trace_one_in = 0;
    c.ws_rate_interval_ms = 600_000;
    let tw = Tracewire::start(c).expect("start");
    tw.instrument_websockets().expect("patch");
    let got = page_code_answers_pings(&format!("{}/echo", need(WS, "TW_TEST_WS")), 5);
    let wire: js_sys::Array = js_sys::Reflect::get(&got, &"wire".into())
        .expect("wire")
        .unchecked_into();
    wait_for(5000, "5 pings and 5 pongs back", || {
        (wire.length() >= 10).then_some(())
    })
    .await;
    let mut pong_traces = Vec::new();
    let mut ping_traces = Vec::new();
    for data in wire.iter() {
        let v: Value = serde_json::from_str(&data.as_string().expect("text")).expect("json");
        let tp = TraceParent::parse(v["trace_context"]["traceparent"].as_str().expect("context"))
            .expect("valid");
        assert!(!tp.sampled(), "{v}");
        if v["type"] == "pong" {
            pong_traces.push(tp.trace_id);
        } else {
            ping_traces.push(tp.trace_id);
        }
    }
    // A pong sent by the listener of a counted ping continues the ping's (unsampled) trace.
    pong_traces.sort_by_key(|t| t.to_hex());
    ping_traces.sort_by_key(|t| t.to_hex());
    assert_eq!(pong_traces, ping_traces);
    tw.flush().await;
    tw.uninstrument_websockets();
    let rates = message_rates(&service, 2).await;
    let of = |t: &str| {
        rates
            .iter()
            .find(|r| r["attributes"]["ws.message.type"] == t)
            .unwrap_or_else(|| panic!("no {t} record in {rates:?}"))
    };
    for t in ["ping", "pong"] {
        let r = of(t);
        assert_eq!(int_attr(r, "ws.counted.sent"), 5, "{r}");
        assert_eq!(int_attr(r, "ws.counted.received"), 5, "{r}");
        let rtt = r["attributes"]["ws.counted.rtt"].as_str().expect("rtt");
        assert_eq!(
            rtt_round_trips(rtt),
            5,
            "every counted send got its echo: {r}"
        );
    }
    assert_eq!(int_attr(of("ping"), "ws.counted.errors"), 0);
    assert_eq!(
        int_attr(of("pong"), "ws.counted.errors"),
        5,
        "the pong listener threw"
    );
    assert_eq!(
        tw.stats().exported,
        3,
        "no span of a message: the two records and the ws.connect span"
    );
    tw.shutdown().await;
}

#[wasm_bindgen_test]
async fn a_payload_free_sockets_counted_send_n_is_timed_by_receive_n() {
    let service = unique_service("sdk-counting-payload-free");
    let ws_base = need(WS, "TW_TEST_WS");
    let mut c = config(need(OTLP, "TW_TEST_OTLP"));
    c.service_name = service.clone();
    c.payload_free_urls = vec![format!("{ws_base}/echo")];
    c.ws_spans_per_type = 1;
    c.ws_trace_one_in = 0;
    c.ws_rate_interval_ms = 600_000;
    let tw = Tracewire::start(c).expect("start");
    let conn = connect("/echo").await;
    for _ in 0..4 {
        conn.ws.send_bytes(&FRAME).expect("send");
    }
    conn.next(3).await;
    for data in conn.received.borrow().iter() {
        assert_eq!(js_sys::Uint8Array::new(data).to_vec(), FRAME, "unchanged");
    }
    tw.flush().await;
    let rates = message_rates(&service, 1).await;
    let r = &rates[0];
    assert!(
        r["attributes"]["ws.message.type"].is_null(),
        "binary: no type: {r}"
    );
    // Send 1 had the allowance, so receive 1 (its reply) is traced as well; 2-4 are counted.
    assert_eq!(int_attr(r, "ws.counted.sent"), 3);
    assert_eq!(int_attr(r, "ws.counted.received"), 3);
    assert_eq!(int_attr(r, "ws.counted.sent_bytes"), 3 * FRAME.len() as u64);
    let rtt = r["attributes"]["ws.counted.rtt"].as_str().expect("rtt");
    assert_eq!(rtt_round_trips(rtt), 3, "{r}");
    tw.shutdown().await;
}
