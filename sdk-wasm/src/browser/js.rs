//! The JavaScript API: camelCase methods over the Rust API, and the TypeScript types of the
//! config object and attribute maps.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::{Span, Tracewire, export};
use crate::config::Value;
use crate::record::{AttrValue, Attributes, Severity};
use crate::{Config, Error};

#[wasm_bindgen(typescript_custom_section)]
const TS_CONFIG: &'static str = r#"
/** Configuration of `Tracewire.start`. Only `endpoint` and `serviceName` are required. */
export interface TracewireConfig {
  /** Collector base URL; data goes to `{endpoint}/v1/traces` and `{endpoint}/v1/logs`. */
  endpoint: string;
  /** `service.name` of everything this page exports. */
  serviceName: string;
  /** `service.version` resource attribute. */
  serviceVersion?: string;
  /** `deployment.environment` resource attribute. */
  environment?: string;
  /** Ingest key: `x-tracewire-key` header, `?key=` on beacons and page-exit requests. */
  ingestKey?: string;
  /** Fraction of traces recorded, 0..1 (default 1). Errors are always kept. */
  sampleRate?: number;
  /** Queue limit in items (default 2048); beyond it new items are dropped and counted. */
  maxQueueItems?: number;
  /** Queue limit in estimated bytes (default 4 MiB). */
  maxQueueBytes?: number;
  /** Items per export request (default 512). */
  maxBatchItems?: number;
  /** Estimated bytes per export request (default 512 KiB). */
  maxBatchBytes?: number;
  /** Longest wait before an export starts, ms (default 5000). */
  flushIntervalMs?: number;
  /** Tries per batch including the first (default 5). */
  maxExportAttempts?: number;
  /** First retry delay, ms, x1.5 per try, +-20% jitter (default 1000). */
  retryInitialMs?: number;
  /** Longest retry delay, ms, unless Retry-After asks for more (default 5000). */
  retryMaxMs?: number;
  /** gzip export bodies with CompressionStream when available (default true). */
  compression?: boolean;
  /** Bytes of the browser's 64 KiB keepalive budget used at page exit (default 60000). */
  keepaliveBudgetBytes?: number;
  /** Flush on visibilitychange to hidden and pagehide (default true). */
  flushOnPageExit?: boolean;
  /** JSON field carrying the trace context in messages (default "trace_context"). */
  traceContextField?: string;
  /** Inject trace context into outgoing JSON object messages (default true). */
  injectTraceContext?: boolean;
  /** Fields read, in order, for the message type (default ["type","event","op","action"]). */
  messageTypeFields?: string[];
  /** URL patterns (`*` wildcard) whose text messages are wrapped in an envelope. */
  envelopeUrls?: string[];
  /** URL patterns (`*` wildcard) of payload-free sockets: messages never changed, context in the handshake URL's `traceparent`, messages numbered per connection. */
  payloadFreeUrls?: string[];
  /** `tracestate` sent with injected context. */
  tracestate?: string;
  /** Sent messages waiting longer for a reply are exported without round-trip time, ms (default 10000). */
  replyTimeoutMs?: number;
  /** Spans per socket and message type and interval; further messages are counted in `ws.message_rate` records (default 100). */
  wsSpansPerType?: number;
  /** The WebSocket counting interval: allowances restart and counts are reported (on the next export tick), ms (default 10000). */
  wsRateIntervalMs?: number;
  /** Beyond the allowance one message in this many still gets spans, its reply too; 0: none (default 100). */
  wsTraceOneIn?: number;
  /** Extra origins whose fetches get `traceparent` (the page's own origin always does). */
  propagateToOrigins?: string[];
  /** Spans per fetch route and interval; further requests are only counted (default 20). */
  fetchSpansPerRoute?: number;
  /** Interval of the per-route request-rate report, ms (default 10000). */
  fetchRateIntervalMs?: number;
  /** Capture window errors, unhandled rejections and SDK panics (default true). */
  captureErrors?: boolean;
  /**
   * Console methods whose calls also become log records (default none: off). The console still
   * shows exactly what the page passed; needs the SDK's `console` cargo feature (in the default build).
   */
  captureConsole?: TracewireConsoleMethod[];
  /** Remove query strings from recorded URLs (default true). */
  stripUrlQuery?: boolean;
  /** Attribute keys (case-insensitive substrings) whose values are replaced by [REDACTED]. */
  denyAttributes?: string[];
  /** Redact e-mail addresses in attribute values (default true). */
  redactEmails?: boolean;
  /** Redact bearer tokens in attribute values (default true). */
  redactBearerTokens?: boolean;
  /** Extra regular expressions whose matches are replaced by [REDACTED]. */
  redactPatterns?: string[];
}

/** Attribute map for spans, events and logs. */
export type TracewireAttributes = Record<string, string | number | boolean>;

/** Levels of `Tracewire.log`, OTLP severity numbers 1, 5, 9, 13, 17 and 21. */
export type TracewireLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Console methods `captureConsole` can capture (`log` is recorded as `info`). */
export type TracewireConsoleMethod = 'trace' | 'debug' | 'log' | 'info' | 'warn' | 'error';

/** Export counters returned by `Tracewire.stats()`. */
export interface TracewireStats {
  exported: number;
  queued: number;
  exportedOnExit: number;
  droppedQueueFull: number;
  droppedExportFailed: number;
  requests: number;
  compressedRequests: number;
  keepaliveRequests: number;
  keepaliveFailures: number;
  keepaliveMaxBytesInFlight: number;
  keepaliveMaxInFlight: number;
  beacons: number;
  beaconFailures: number;
  carriedOver: number;
  carriedIn: number;
  keepaliveBytesInFlight: number;
  keepaliveInFlight: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The JS config object.
    #[wasm_bindgen(typescript_type = "TracewireConfig")]
    pub type JsConfig;
    /// A JS attribute map.
    #[wasm_bindgen(typescript_type = "TracewireAttributes")]
    pub type JsAttributes;
    /// The stats object.
    #[wasm_bindgen(typescript_type = "TracewireStats")]
    pub type JsStats;
    /// A log level name.
    #[wasm_bindgen(typescript_type = "TracewireLogLevel")]
    pub type JsLogLevel;
}

fn to_js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message());
    if let Error::InvalidConfig { field, .. } = &e {
        let _ = js_sys::Reflect::set(&err, &"field".into(), &JsValue::from_str(field));
    }
    err.into()
}

/// Converts a JS value to an attribute value (objects become their JSON text, errors their
/// message).
pub fn attr_value(v: &JsValue) -> AttrValue {
    if let Some(s) = v.as_string() {
        return AttrValue::from(s);
    }
    if let Some(b) = v.as_bool() {
        return AttrValue::Bool(b);
    }
    if let Some(n) = v.as_f64() {
        if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
            return AttrValue::Int(n as i64);
        }
        return AttrValue::Float(n);
    }
    AttrValue::from(super::dom::describe(v).1)
}

/// Reads a JS attribute map (`undefined` and non-objects give none).
pub fn attributes(obj: &JsValue) -> Attributes {
    if !obj.is_object() {
        return Vec::new();
    }
    js_sys::Object::entries(obj.unchecked_ref())
        .iter()
        .filter_map(|entry| {
            let pair: js_sys::Array = entry.dyn_into().ok()?;
            Some((pair.get(0).as_string()?.into(), attr_value(&pair.get(1))))
        })
        .collect()
}

/// One value of the JS config object, in the form the config table reads.
fn config_value(v: &JsValue) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    if let Some(b) = v.as_bool() {
        return Value::Bool(b);
    }
    if let Some(n) = v.as_f64() {
        return Value::Number(n);
    }
    if let Some(s) = v.as_string() {
        return Value::Str(s);
    }
    if js_sys::Array::is_array(v) {
        let items: Option<Vec<String>> = js_sys::Array::from(v)
            .iter()
            .map(|i| i.as_string())
            .collect();
        return items.map_or(Value::Other, Value::List);
    }
    Value::Other
}

/// The config object's own keys, read straight from JavaScript (keys set to `undefined` count as
/// left out, as in JSON).
fn config_from_js(obj: &JsValue) -> crate::Result<Config> {
    if !obj.is_object() || js_sys::Array::is_array(obj) {
        return Err(crate::config::invalid("config", "must be an object"));
    }
    let mut config = Config::default();
    for key in js_sys::Object::keys(obj.unchecked_ref::<js_sys::Object>()).iter() {
        let value = js_sys::Reflect::get(obj, &key).unwrap_or(JsValue::UNDEFINED);
        if value.is_undefined() {
            continue;
        }
        config.set(&key.as_string().unwrap_or_default(), config_value(&value))?;
    }
    Ok(config)
}

#[wasm_bindgen]
impl Tracewire {
    /// `Tracewire.start({ endpoint, serviceName, ... })`; throws an `Error` with a `field`
    /// property when the config is invalid.
    #[wasm_bindgen(js_name = start)]
    pub fn js_start(config: JsConfig) -> Result<Tracewire, JsValue> {
        let config = config_from_js(&config).map_err(to_js_error)?;
        Tracewire::start(config).map_err(to_js_error)
    }

    /// Patches `window.WebSocket` so every socket the page or a library opens is traced.
    #[cfg(feature = "websocket")]
    #[wasm_bindgen(js_name = instrumentWebSockets)]
    pub fn instrument_websockets(&self) -> Result<(), JsValue> {
        let inner = self.inner();
        if inner.ws_patch.borrow().is_some() {
            return Ok(());
        }
        let patch = super::websocket::WebSocketPatch::install(inner).map_err(to_js_error)?;
        *inner.ws_patch.borrow_mut() = Some(patch);
        Ok(())
    }

    /// Restores the original `window.WebSocket`; sockets opened meanwhile stop being traced.
    #[cfg(feature = "websocket")]
    #[wasm_bindgen(js_name = uninstrumentWebSockets)]
    pub fn uninstrument_websockets(&self) {
        drop(self.inner().ws_patch.borrow_mut().take());
    }

    /// Patches `window.fetch`: CLIENT spans, `traceparent` to allowed origins, rate counts.
    #[cfg(feature = "fetch")]
    #[wasm_bindgen(js_name = instrumentFetch)]
    pub fn instrument_fetch(&self) -> Result<(), JsValue> {
        let inner = self.inner();
        if inner.fetch_patch.borrow().is_some() {
            return Ok(());
        }
        let patch = super::fetch::FetchPatch::install(inner).map_err(to_js_error)?;
        *inner.fetch_patch.borrow_mut() = Some(patch);
        Ok(())
    }

    /// Restores the original `window.fetch`.
    #[cfg(feature = "fetch")]
    #[wasm_bindgen(js_name = uninstrumentFetch)]
    pub fn uninstrument_fetch(&self) {
        drop(self.inner().fetch_patch.borrow_mut().take());
    }

    /// Wraps `XMLHttpRequest.prototype`'s methods: CLIENT spans, `traceparent` to allowed
    /// origins and rate counts, as for fetch (feature `xhr`).
    #[cfg(feature = "xhr")]
    #[wasm_bindgen(js_name = instrumentXhr)]
    pub fn instrument_xhr(&self) -> Result<(), JsValue> {
        let inner = self.inner();
        if inner.xhr_patch.borrow().is_some() {
            return Ok(());
        }
        let patch = super::xhr::XhrPatch::install(inner).map_err(to_js_error)?;
        *inner.xhr_patch.borrow_mut() = Some(patch);
        Ok(())
    }

    /// Restores `XMLHttpRequest.prototype`'s methods.
    #[cfg(feature = "xhr")]
    #[wasm_bindgen(js_name = uninstrumentXhr)]
    pub fn uninstrument_xhr(&self) {
        drop(self.inner().xhr_patch.borrow_mut().take());
    }

    /// Patches `window.EventSource`: `sse.connect` and `sse.receive` spans, continuing the
    /// server's trace when an event carries its context (feature `eventsource`).
    #[cfg(feature = "eventsource")]
    #[wasm_bindgen(js_name = instrumentEventSource)]
    pub fn instrument_event_source(&self) -> Result<(), JsValue> {
        let inner = self.inner();
        if inner.eventsource_patch.borrow().is_some() {
            return Ok(());
        }
        let patch = super::eventsource::EventSourcePatch::install(inner).map_err(to_js_error)?;
        *inner.eventsource_patch.borrow_mut() = Some(patch);
        Ok(())
    }

    /// Restores the original `window.EventSource`; sources opened meanwhile stop being traced.
    #[cfg(feature = "eventsource")]
    #[wasm_bindgen(js_name = uninstrumentEventSource)]
    pub fn uninstrument_event_source(&self) {
        drop(self.inner().eventsource_patch.borrow_mut().take());
    }

    /// Starts a span (the parent of sends and fetches until it ends).
    #[wasm_bindgen(js_name = startSpan)]
    pub fn js_start_span(&self, name: &str, attrs: Option<JsAttributes>) -> Span {
        let span = self.start_span(name);
        for (k, v) in attrs.map(|a| attributes(&a)).unwrap_or_default() {
            span.set_attribute(&k, v);
        }
        span
    }

    /// Records a named event.
    #[wasm_bindgen(js_name = event)]
    pub fn js_event(&self, name: &str, attrs: Option<JsAttributes>) {
        self.event(name, attrs.map(|a| attributes(&a)).unwrap_or_default());
    }

    /// Records a log record (`level`: trace, debug, info, warn, error or fatal) in the active
    /// span's trace; throws a `TypeError` for another level.
    #[wasm_bindgen(js_name = log)]
    pub fn js_log(
        &self,
        level: JsLogLevel,
        message: &str,
        attrs: Option<JsAttributes>,
    ) -> Result<(), JsValue> {
        let level = level
            .as_string()
            .and_then(|l| Severity::from_name(&l))
            .ok_or_else(|| {
                js_sys::TypeError::new(
                    "Tracewire.log: level must be trace, debug, info, warn, error or fatal",
                )
            })?;
        self.log(
            level,
            message,
            attrs.map(|a| attributes(&a)).unwrap_or_default(),
        );
        Ok(())
    }

    /// Sets the user id (`null` clears it).
    #[wasm_bindgen(js_name = setUser)]
    pub fn js_set_user(&self, id: Option<String>) {
        self.set_user(id.as_deref());
    }

    /// The current session id.
    #[wasm_bindgen(js_name = sessionId)]
    pub fn js_session_id(&self) -> String {
        self.session_id()
    }

    /// Exports everything recorded so far.
    #[wasm_bindgen(js_name = flush)]
    pub fn js_flush(&self) -> js_sys::Promise {
        export::flush(self.inner())
    }

    /// Flushes, then removes every listener, timer and patch.
    #[wasm_bindgen(js_name = shutdown)]
    pub fn js_shutdown(&self) -> js_sys::Promise {
        export::shutdown(self.inner())
    }

    /// Export counters.
    #[wasm_bindgen(js_name = stats)]
    pub fn js_stats(&self) -> JsStats {
        let obj = js_sys::Object::new();
        for (key, value) in self.stats().fields() {
            let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(key), &JsValue::from(value));
        }
        obj.unchecked_into()
    }

    /// Runs the page-exit flush now.
    #[wasm_bindgen(js_name = flushForPageExit)]
    pub fn js_flush_for_page_exit(&self) {
        self.flush_for_page_exit();
    }
}

#[wasm_bindgen]
impl Span {
    /// Sets an attribute.
    #[wasm_bindgen(js_name = setAttribute)]
    pub fn js_set_attribute(&self, key: &str, value: JsValue) {
        self.set_attribute(key, attr_value(&value));
    }

    /// Marks the span as failed.
    #[wasm_bindgen(js_name = setError)]
    pub fn js_set_error(&self, message: &str) {
        self.set_error(message);
    }

    /// Ends the span.
    #[wasm_bindgen(js_name = end)]
    pub fn js_end(&self) {
        self.end();
    }

    /// The span's `traceparent`.
    #[wasm_bindgen(getter = traceparent)]
    pub fn js_traceparent(&self) -> String {
        self.traceparent()
    }
}
