//! Everything that touches the browser: the running SDK instance ([`Tracewire`]), user spans,
//! the exporter, and the WebSocket, fetch and error instrumentations. Compiled for `wasm32` only.

#[cfg(feature = "console")]
mod console;
mod dom;
#[cfg(feature = "errors")]
mod errors;
#[cfg(feature = "eventsource")]
mod eventsource;
pub(crate) mod export;
#[cfg(any(feature = "fetch", feature = "xhr"))]
mod fetch;
mod js;
mod span;
#[cfg(feature = "websocket")]
pub mod websocket;
#[cfg(feature = "xhr")]
mod xhr;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use crate::context::{FLAG_SAMPLED, IdGenerator, SpanId, TraceId, TraceParent};
use crate::otlp::SDK_VERSION;
use crate::queue::{BoundedQueue, QueueLimits};
use crate::record::{AttrValue, Attributes, Item, LogRecord, Severity, SpanRecord};
use crate::scrub::Scrubber;
use crate::session::SessionState;
use crate::{Config, Error, Result, sampling};
use tracewire_semconv::{attribute, resource};

pub use dom::Listener;
pub use export::Stats;
pub use span::Span;

const SESSION_KEY: &str = "tracewire.session";
/// `sessionStorage` is written at most this often on activity (it is synchronous and slow).
const SESSION_WRITE_INTERVAL_MS: f64 = 5_000.0;

thread_local! {
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

/// The running instance, if any (used by instrumentations created from JavaScript).
pub(crate) fn current() -> Option<Rc<Inner>> {
    CURRENT.with(|c| c.try_borrow().ok().and_then(|w| w.upgrade()))
}

/// Context of a span being recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanCtx {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    pub sampled: bool,
}

impl SpanCtx {
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            span_id: self.span_id,
            flags: if self.sampled { FLAG_SAMPLED } else { 0 },
        }
    }
}

/// What an instrumentation holds back from the queue: aggregates it keeps (request counts per
/// route) or records waiting for something (sends waiting for their reply). Instrumentations
/// register theirs with [`Inner::hold`]; the exporter asks them all before every export and on
/// its periodic tick, without knowing any instrumentation.
pub(crate) trait Held {
    /// Queues what is due: everything before an export (`all`), otherwise (the periodic tick)
    /// only what has waited long enough.
    fn release(&self, inner: &Inner, all: bool);
}

pub(crate) struct State {
    pub queue: BoundedQueue,
    pub ids: IdGenerator,
    pub session: SessionState,
    session_written_ms: f64,
    pub user_id: Option<String>,
    /// Spans started and not yet ended; the last one is the parent of new work.
    pub active: Vec<SpanCtx>,
    pub stats: Stats,
    /// A background flush was asked for and has not started yet.
    pub flush_scheduled: bool,
}

pub(crate) struct Inner {
    pub config: Config,
    pub resource: Attributes,
    scrubber: Scrubber,
    redact_patterns: Vec<js_sys::RegExp>,
    pub window: web_sys::Window,
    performance: Option<web_sys::Performance>,
    /// `performance.timeOrigin` (0 without `performance`, whose stand-in is `Date.now()`).
    time_origin: f64,
    pub state: RefCell<State>,
    listeners: RefCell<Vec<Listener>>,
    timers: RefCell<Vec<dom::Interval>>,
    pub shut_down: Cell<bool>,
    #[cfg(feature = "websocket")]
    pub ws_patch: RefCell<Option<websocket::WebSocketPatch>>,
    #[cfg(feature = "fetch")]
    pub fetch_patch: RefCell<Option<fetch::FetchPatch>>,
    #[cfg(feature = "xhr")]
    pub xhr_patch: RefCell<Option<xhr::XhrPatch>>,
    #[cfg(feature = "eventsource")]
    pub eventsource_patch: RefCell<Option<eventsource::EventSourcePatch>>,
    /// The request counter fetch and XHR share while either patch holds it.
    #[cfg(feature = "xhr")]
    pub http_rates: RefCell<Weak<fetch::RouteRates>>,
    /// The wrapped console methods (`captureConsole`).
    #[cfg(feature = "console")]
    console: RefCell<Option<console::ConsolePatch>>,
    /// Requests a previous page load could not send, sent by the next flush.
    pub carried: RefCell<Vec<crate::carry::Carried>>,
    /// The export pipeline.
    exporter: export::Exporter,
    /// Page-exit keepalive requests in flight.
    keepalives: export::Keepalives,
    /// What the instrumentations hold back, released before every export.
    held: RefCell<Vec<Weak<dyn Held>>>,
    /// What the WebSocket instrumentation shares across sockets.
    #[cfg(feature = "websocket")]
    pub ws: websocket::Shared,
}

/// The running SDK. Create it once per page with [`Tracewire::start`]; dropping it (or
/// [`Tracewire::shutdown`]) removes every listener and patch it installed.
#[wasm_bindgen]
pub struct Tracewire {
    inner: Rc<Inner>,
}

impl Tracewire {
    /// Validates `config`, restores or starts the session, and installs the page-exit flush and
    /// (when `capture_errors`) the error capture. Fails with [`Error::InvalidConfig`] naming the
    /// bad field, or [`Error::AlreadyStarted`] when another instance is running.
    pub fn start(config: Config) -> Result<Tracewire> {
        let config = config.validate()?;
        if current().is_some() {
            return Err(Error::AlreadyStarted);
        }
        let window = dom::window().ok_or(Error::Unavailable("window"))?;
        let mut redact_patterns = Vec::new();
        for p in &config.redact_patterns {
            let re = dom::regexp(p).ok_or_else(|| Error::InvalidConfig {
                field: "redactPatterns",
                message: crate::json::quoted(p) + " is not a JavaScript regular expression",
            })?;
            redact_patterns.push(re);
        }
        let crypto = window.crypto().map_err(|_| Error::Unavailable("crypto"))?;
        let ids = IdGenerator::new(Box::new(move |buf: &mut [u8]| {
            // getRandomValues only fails for more than 65536 bytes; the pool asks for 1024.
            let _ = crypto.get_random_values_with_u8_array(buf);
        }));
        let mut resource: Attributes = vec![
            (
                resource::SERVICE_NAME.into(),
                config.service_name.clone().into(),
            ),
            (
                resource::TELEMETRY_SDK_NAME.into(),
                resource::BROWSER_SDK_NAME.into(),
            ),
            (
                resource::TELEMETRY_SDK_LANGUAGE.into(),
                resource::BROWSER_SDK_LANGUAGE.into(),
            ),
            (resource::TELEMETRY_SDK_VERSION.into(), SDK_VERSION.into()),
        ];
        if let Some(v) = &config.service_version {
            resource.push((resource::SERVICE_VERSION.into(), v.clone().into()));
        }
        if let Some(env) = &config.environment {
            resource.push((resource::DEPLOYMENT_ENVIRONMENT.into(), env.clone().into()));
        }
        if let Ok(ua) = window.navigator().user_agent() {
            resource.push((resource::USER_AGENT_ORIGINAL.into(), ua.into()));
        }
        let scrubber = Scrubber::new(
            &config.deny_attributes,
            config.redact_emails,
            config.redact_bearer_tokens,
        );
        let performance = window.performance();
        let mut state = State {
            queue: BoundedQueue::new(QueueLimits {
                max_items: config.max_queue_items,
                max_bytes: config.max_queue_bytes,
            }),
            ids,
            session: SessionState {
                id: String::new(),
                started_ms: 0.0,
                last_ms: 0.0,
            },
            session_written_ms: f64::NEG_INFINITY,
            user_id: None,
            active: Vec::new(),
            stats: Stats::default(),
            flush_scheduled: false,
        };
        let stored = dom::session_storage(&window)
            .and_then(|s| s.get_item(SESSION_KEY).ok().flatten())
            .and_then(|stored| SessionState::decode(&stored));
        let now = js_sys::Date::now();
        let (session, _) = SessionState::touch(stored, now, || {
            let id = state.ids.trace_id();
            id.to_hex()
        });
        state.session = session;
        #[cfg(feature = "websocket")]
        let ws = websocket::Shared::new(&config);
        let ingest_key = config.ingest_key.clone();
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| Inner {
            exporter: export::Exporter::new(weak, ingest_key),
            keepalives: export::Keepalives::new(weak.clone()),
            config,
            resource,
            scrubber,
            redact_patterns,
            window,
            time_origin: performance.as_ref().map_or(0.0, |p| p.time_origin()),
            performance,
            state: RefCell::new(state),
            carried: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
            timers: RefCell::new(Vec::new()),
            shut_down: Cell::new(false),
            #[cfg(feature = "websocket")]
            ws_patch: RefCell::new(None),
            #[cfg(feature = "fetch")]
            fetch_patch: RefCell::new(None),
            #[cfg(feature = "xhr")]
            xhr_patch: RefCell::new(None),
            #[cfg(feature = "eventsource")]
            eventsource_patch: RefCell::new(None),
            #[cfg(feature = "xhr")]
            http_rates: RefCell::new(Weak::new()),
            #[cfg(feature = "console")]
            console: RefCell::new(None),
            held: RefCell::new(Vec::new()),
            #[cfg(feature = "websocket")]
            ws,
        });
        #[cfg(feature = "websocket")]
        inner.ws.register(&inner);
        inner.write_session(now, true);
        let carried = export::take_carried(&inner.window);
        let has_carried = !carried.is_empty();
        *inner.carried.borrow_mut() = carried;
        export::install(&inner);
        #[cfg(feature = "errors")]
        if inner.config.capture_errors {
            errors::install(&inner);
        }
        #[cfg(feature = "console")]
        if !inner.config.capture_console.is_empty() {
            *inner.console.borrow_mut() = Some(console::ConsolePatch::install(&inner));
        }
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));
        if has_carried {
            export::schedule_flush(&inner);
        }
        Ok(Tracewire { inner })
    }

    /// Starts a span; it is the parent of WebSocket sends and fetches made until it ends.
    pub fn start_span(&self, name: &str) -> Span {
        Span::start(&self.inner, name)
    }

    /// Records a named event (an OTLP log record with `eventName`) in the active span's trace.
    pub fn event(&self, name: &str, attributes: Attributes) {
        let active = self.inner.state.borrow().active.last().copied();
        if active.is_some_and(|a| !a.sampled) {
            return;
        }
        self.inner
            .log(Severity::Info, name.to_owned(), Some(name), attributes);
    }

    /// Records a log record at `level` with `message` as its body, in the active span's trace
    /// (its `traceId` and `spanId`) when there is one. Like everything else it is scrubbed before
    /// export and goes out in the log batches; logs are not sampled (`sample_rate` applies to
    /// traces).
    pub fn log(&self, level: Severity, message: &str, attributes: Attributes) {
        self.inner.log(level, message.to_owned(), None, attributes);
    }

    /// Sets (or with `None` clears) the `user.id` put on everything recorded from now on.
    pub fn set_user(&self, id: Option<&str>) {
        self.inner.state.borrow_mut().user_id = id.map(str::to_owned);
    }

    /// The current session id (a new one after 15 idle minutes or 4 hours).
    pub fn session_id(&self) -> String {
        self.inner.touch_session();
        self.inner.state.borrow().session.id.clone()
    }

    /// Exports everything recorded so far; resolves when the collector answered (or retries were
    /// exhausted, which is counted, never thrown).
    pub async fn flush(&self) {
        let _ = wasm_bindgen_futures::JsFuture::from(export::flush(&self.inner)).await;
    }

    /// Flushes, then removes every listener, timer and patch. Idempotent.
    pub async fn shutdown(&self) {
        if self.inner.shut_down.get() {
            return;
        }
        let _ = wasm_bindgen_futures::JsFuture::from(export::shutdown(&self.inner)).await;
    }

    /// Export counters: exported, dropped (queue full, export failed) and page-exit delivery.
    pub fn stats(&self) -> Stats {
        let st = self.inner.state.borrow();
        Stats {
            queued: u32::try_from(st.queue.len()).unwrap_or(u32::MAX),
            ..st.stats.clone()
        }
    }

    /// Runs the page-exit flush now, as on `pagehide` (keepalive fetches within the budget, then
    /// beacons).
    pub fn flush_for_page_exit(&self) {
        export::flush_on_exit(&self.inner);
    }

    pub(crate) fn inner(&self) -> &Rc<Inner> {
        &self.inner
    }
}

impl Drop for Tracewire {
    fn drop(&mut self) {
        self.inner.teardown();
    }
}

impl Inner {
    /// Nanoseconds since the Unix epoch, with sub-millisecond resolution when available.
    pub fn now_ns(&self) -> u64 {
        self.epoch_ns(self.now_ms())
    }

    /// Milliseconds on the monotonic clock, for durations.
    pub fn now_ms(&self) -> f64 {
        match &self.performance {
            Some(p) => p.now(),
            None => js_sys::Date::now(),
        }
    }

    /// A [`now_ms`](Inner::now_ms) reading as nanoseconds since the Unix epoch (one clock read
    /// serves both on the hot path).
    pub fn epoch_ns(&self, ms: f64) -> u64 {
        ((self.time_origin + ms) * 1_000_000.0) as u64
    }

    /// A new span context: a child of `parent` (remote or local), else of the active span, else
    /// the root of a new, head-sampled trace.
    pub fn new_ctx(&self, parent: Option<TraceParent>) -> SpanCtx {
        let mut st = self.state.borrow_mut();
        let span_id = st.ids.span_id();
        if let Some(p) = parent {
            return SpanCtx {
                trace_id: p.trace_id,
                span_id,
                parent: Some(p.span_id),
                sampled: p.sampled(),
            };
        }
        if let Some(a) = st.active.last().copied() {
            return SpanCtx {
                trace_id: a.trace_id,
                span_id,
                parent: Some(a.span_id),
                sampled: a.sampled,
            };
        }
        let trace_id = st.ids.trace_id();
        SpanCtx {
            trace_id,
            span_id,
            parent: None,
            sampled: sampling::keep_trace(&trace_id, self.config.sample_rate),
        }
    }

    fn touch_session(&self) {
        let now = js_sys::Date::now();
        let renewed = {
            let mut st = self.state.borrow_mut();
            let stored = std::mem::replace(
                &mut st.session,
                SessionState {
                    id: String::new(),
                    started_ms: 0.0,
                    last_ms: 0.0,
                },
            );
            let ids = &mut st.ids;
            let (session, renewed) =
                SessionState::touch(Some(stored), now, || ids.trace_id().to_hex());
            st.session = session;
            renewed
        };
        self.write_session(now, renewed);
    }

    fn write_session(&self, now: f64, force: bool) {
        let json = {
            let mut st = self.state.borrow_mut();
            if !force && now - st.session_written_ms < SESSION_WRITE_INTERVAL_MS {
                return;
            }
            st.session_written_ms = now;
            st.session.encode()
        };
        if let Some(storage) = dom::session_storage(&self.window) {
            // Storage can be full or disabled; the session then lives in memory only.
            let _ = storage.set_item(SESSION_KEY, &json);
        }
    }

    /// Applies URL stripping and PII scrubbing to attribute values, in place.
    pub fn scrub(&self, attrs: &mut Attributes) {
        for (key, value) in attrs.iter_mut() {
            if let AttrValue::Str(s) = value {
                if let Some(clean) = self.scrubber.scrub(key, s) {
                    *s = clean.into();
                }
                for re in &self.redact_patterns {
                    if let Some(replaced) = dom::redact(re, s, crate::scrub::REDACTED) {
                        *s = replaced.into();
                    }
                }
            } else if self.scrubber.denies_key(key) {
                *value = AttrValue::Str(crate::scrub::REDACTED.into());
            }
        }
    }

    /// URL as recorded: query and fragment removed unless configured otherwise.
    #[cfg(any(
        feature = "websocket",
        feature = "fetch",
        feature = "errors",
        feature = "xhr",
        feature = "eventsource"
    ))]
    pub fn clean_url(&self, url: &str) -> String {
        if self.config.strip_url_query {
            crate::scrub::strip_query(url).to_owned()
        } else {
            url.to_owned()
        }
    }

    fn common_attrs(&self, attrs: &mut Attributes) {
        self.touch_session();
        let st = self.state.borrow();
        attrs.push((attribute::SESSION_ID.into(), st.session.id.clone().into()));
        if let Some(user) = &st.user_id {
            attrs.push((attribute::USER_ID.into(), user.clone().into()));
        }
    }

    /// Queues a finished span (scrubbed, with session and user), never blocking.
    pub fn record_span(&self, mut span: SpanRecord) {
        if self.shut_down.get() {
            return;
        }
        self.common_attrs(&mut span.attributes);
        self.enqueue(Item::Span(span));
    }

    /// Queues a log record (with session and user), never blocking.
    pub fn record_log(&self, mut log: LogRecord) {
        if self.shut_down.get() {
            return;
        }
        self.common_attrs(&mut log.attributes);
        self.enqueue(Item::Log(log));
    }

    /// Queues a log record (an event when `event_name` is given) in the active span's trace.
    pub(crate) fn log(
        &self,
        level: Severity,
        body: String,
        event_name: Option<&str>,
        attributes: Attributes,
    ) {
        let active = self.state.borrow().active.last().copied();
        self.record_log(LogRecord {
            time_ns: self.now_ns(),
            severity: level,
            body,
            event_name: event_name.map(str::to_owned),
            attributes,
            trace_id: active.map(|a| a.trace_id),
            span_id: active.map(|a| a.span_id),
        });
    }

    fn scrub_text(&self, text: &mut String) {
        let mut tmp: Attributes = vec![("text".into(), AttrValue::from(std::mem::take(text)))];
        self.scrub(&mut tmp);
        if let Some((_, AttrValue::Str(t))) = tmp.pop() {
            *text = t.into_owned();
        }
    }

    /// Scrubs an item just before it is encoded: scrubbing runs off the page's hot path (a
    /// traced `send` only queues), and nothing leaves the page unscrubbed.
    pub fn scrub_item(&self, item: &mut Item) {
        match item {
            Item::Span(span) => {
                self.scrub(&mut span.attributes);
                for event in &mut span.events {
                    self.scrub(&mut event.attributes);
                }
                if let Some(msg) = &mut span.error {
                    self.scrub_text(msg);
                }
            }
            Item::Log(log) => {
                self.scrub(&mut log.attributes);
                self.scrub_text(&mut log.body);
            }
        }
    }

    fn enqueue(self: &Inner, item: Item) {
        let full_batch = {
            let mut st = self.state.borrow_mut();
            if !st.queue.push(item) {
                st.stats.dropped_queue_full += 1;
                if st.stats.dropped_queue_full == 1 {
                    dom::warn("Tracewire: export queue full, dropping new telemetry (counted)");
                }
            }
            st.queue.len() >= self.config.max_batch_items && !st.flush_scheduled
        };
        if full_batch {
            export::schedule_flush(self);
        }
    }

    /// Registers what an instrumentation holds back; it is asked before every export for as
    /// long as it lives.
    #[cfg(any(feature = "websocket", feature = "fetch", feature = "xhr"))]
    pub(crate) fn hold(&self, held: Weak<dyn Held>) {
        self.held.borrow_mut().push(held);
    }

    /// Asks every instrumentation for what it holds back (see [`Held`]).
    pub(crate) fn release_held(&self, all: bool) {
        let held: Vec<Rc<dyn Held>> = {
            let mut list = self.held.borrow_mut();
            list.retain(|h| h.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for h in held {
            h.release(self, all);
        }
    }

    /// Ends `span_id`'s turn as the parent of new work.
    pub(crate) fn deactivate(&self, span_id: SpanId) {
        let mut st = self.state.borrow_mut();
        if let Some(i) = st.active.iter().rposition(|a| a.span_id == span_id) {
            st.active.remove(i);
        }
    }

    pub(crate) fn teardown(&self) {
        if self.shut_down.replace(true) {
            return;
        }
        #[cfg(feature = "websocket")]
        drop(self.ws_patch.borrow_mut().take());
        #[cfg(feature = "fetch")]
        drop(self.fetch_patch.borrow_mut().take());
        #[cfg(feature = "xhr")]
        drop(self.xhr_patch.borrow_mut().take());
        #[cfg(feature = "eventsource")]
        drop(self.eventsource_patch.borrow_mut().take());
        #[cfg(feature = "console")]
        drop(self.console.borrow_mut().take());
        self.listeners.borrow_mut().clear();
        self.timers.borrow_mut().clear();
        CURRENT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut()
                && std::ptr::eq(c.as_ptr(), self)
            {
                *c = Weak::new();
            }
        });
    }

    pub(crate) fn add_listener(&self, l: Listener) {
        self.listeners.borrow_mut().push(l);
    }

    pub(crate) fn add_timer(&self, t: dom::Interval) {
        self.timers.borrow_mut().push(t);
    }
}
