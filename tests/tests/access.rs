//! Access control on real collector processes: ingest keys (missing, unknown, from a foreign
//! origin, over their rate), read tokens on every API route and the live tail, SIGHUP adding and
//! removing keys and keeping the old file when the new one is broken, the API listener's Host and
//! Origin checks, the warning when ingest faces the network without an access file, and TLS on
//! both listeners and to ClickHouse with real clients (reqwest with rustls, curl, the
//! OpenTelemetry Python SDK) trusting a CA the test makes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tracewire_e2e::access::sha256 as sha;
use tracewire_e2e::clickhouse_store::ClickHouseTest;
use tracewire_e2e::collector::Collector;
use tracewire_e2e::tls::{TestCa, https_client};
use tracewire_e2e::{http_client, now_ns, otel_send};

const BROWSER_KEY: &str = "twpk_e2e_browser_key_0001";
const BACKEND_KEY: &str = "twsk_e2e_backend_key_0001";
const READ_TOKEN: &str = "twrt_e2e_read_token_0001";
const PAGE: &str = "https://app.acme.example";

/// Tenant `acme` with a browser key (bound to [`PAGE`], at `rate`), a backend key and a read token.
fn acme(rate: &str) -> String {
    format!(
        "[[tenants]]\nid = \"acme\"\n\
         [[tenants.ingest_keys]]\nkey = \"{BROWSER_KEY}\"\norigins = [\"{PAGE}\"]\nrate = \"{rate}\"\n\
         [[tenants.ingest_keys]]\nkey_sha256 = \"{}\"\n\
         [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\n",
        sha(BACKEND_KEY),
        sha(READ_TOKEN)
    )
}

/// A directory with an access file in it.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(access: &str) -> Self {
        let setup = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        setup.write(access);
        setup
    }

    fn access(&self) -> PathBuf {
        self.dir.path().join("access.toml")
    }

    fn write(&self, access: &str) {
        std::fs::write(self.access(), access).expect("write access file");
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("tw.db")
    }

    fn collector(&self, extra: &[&str]) -> Collector {
        let access = self.access().display().to_string();
        let mut args = vec!["--access", access.as_str()];
        args.extend_from_slice(extra);
        Collector::start(&self.db(), &args)
    }
}

/// An OTLP/JSON export of `count` spans named `name` in one new trace; the body and trace id.
fn spans(name: &str, count: usize) -> (String, String) {
    let trace = format!(
        "{:032x}",
        u128::from(rand::random::<u64>()) << 64 | u128::from(now_ns())
    );
    let start = now_ns();
    let spans: Vec<Json> = (0..count)
        .map(|i| {
            json!({
                "traceId": trace, "spanId": format!("{:016x}", i + 1), "name": name, "kind": 2,
                "startTimeUnixNano": (start + i as u64).to_string(),
                "endTimeUnixNano": (start + 1_000_000).to_string(),
            })
        })
        .collect();
    let body = json!({ "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "e2e-access" } }] },
        "scopeSpans": [{ "spans": spans }],
    }]});
    (body.to_string(), trace)
}

fn export(client: &Client, url: &str, body: String) -> RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
}

fn status(response: Response) -> (u16, Json) {
    let code = response.status().as_u16();
    (code, response.json().unwrap_or(Json::Null))
}

fn get(client: &Client, url: &str, token: Option<&str>) -> (u16, Json) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    status(request.send().expect("api answers"))
}

fn metrics(collector: &Collector) -> String {
    http_client()
        .get(collector.api_url("/metrics"))
        .send()
        .and_then(Response::text)
        .expect("metrics")
}

#[test]
fn ingest_needs_a_granted_key_from_its_origin_within_its_rate() {
    let setup = Setup::new(&acme("10/s"));
    let collector = setup.collector(&[]);
    let http = http_client();
    let url = collector.otlp_url("/v1/traces");

    let (code, body) = status(
        export(&http, &url, spans("no key", 1).0)
            .send()
            .expect("answer"),
    );
    assert_eq!(code, 401, "{body}");
    assert_eq!(
        body["code"], 16,
        "google.rpc.Status UNAUTHENTICATED: {body}"
    );
    let unknown = export(&http, &url, spans("unknown key", 1).0)
        .header("x-tracewire-key", "twsk_never_granted_00001")
        .send()
        .expect("answer");
    assert_eq!(unknown.status().as_u16(), 401);
    let foreign = export(&http, &url, spans("foreign", 1).0)
        .header("x-tracewire-key", BROWSER_KEY)
        .header("origin", "https://evil.example")
        .send()
        .expect("answer");
    assert_eq!(foreign.status().as_u16(), 403);

    // The backend key in each place a key may travel.
    for (i, place) in ["header", "bearer", "query"].iter().enumerate() {
        let (body, trace) = spans(&format!("backend {place}"), 1);
        let request = match *place {
            "header" => export(&http, &url, body).header("x-tracewire-key", BACKEND_KEY),
            "bearer" => export(&http, &url, body).bearer_auth(BACKEND_KEY),
            _ => export(&http, &format!("{url}?key={BACKEND_KEY}"), body),
        };
        assert_eq!(
            request.send().expect("answer").status().as_u16(),
            200,
            "{place}"
        );
        let (code, _) = get(
            &http,
            &collector.api_url(&format!("/api/traces/{trace}")),
            Some(READ_TOKEN),
        );
        assert_eq!(code, 200, "trace {i} sent with the key in the {place}");
    }

    // 10/s holds a burst of 20: the page sends 20 spans, then 5 more is too many, until it waits.
    let from_page = |n| {
        export(&http, &url, spans("from the page", n).0)
            .header("x-tracewire-key", BROWSER_KEY)
            .header("origin", PAGE)
            .send()
            .expect("answer")
    };
    assert_eq!(from_page(20).status().as_u16(), 200);
    let limited = from_page(5);
    assert_eq!(limited.status().as_u16(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        from_page(5).status().as_u16(),
        200,
        "recovered after Retry-After"
    );

    let text = metrics(&collector);
    for line in [
        r#"tracewire_ingest_denied_requests_total{reason="missing_key",tenant=""} 1"#,
        r#"tracewire_ingest_denied_requests_total{reason="unknown_key",tenant=""} 1"#,
        r#"tracewire_ingest_denied_requests_total{reason="origin",tenant="acme"} 1"#,
        r#"tracewire_ingest_denied_requests_total{reason="rate_limited",tenant="acme"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

/// Opens the live tail with these handshake headers; the status code it got.
fn live(collector: &Collector, query: &str, headers: &[(&str, &str)]) -> u16 {
    let url = format!(
        "{}/api/live{query}",
        collector.api.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("ascii"),
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        match tokio_tungstenite::connect_async(request).await {
            Ok((_, response)) => response.status().as_u16(),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            Err(e) => panic!("live tail: {e}"),
        }
    })
}

#[test]
fn every_api_route_and_the_live_tail_need_a_read_token() {
    let setup = Setup::new(&acme("100/s"));
    let collector = setup.collector(&[]);
    let http = http_client();
    for path in [
        "/api/traces",
        "/api/traces/5b8efff798038103d269b633813fc60c",
        "/api/services",
        "/api/ws/roundtrips",
        "/api/ws/latency",
        "/api/ws/message-types",
        "/api/ws/rates",
        "/api/sessions/s1",
        "/api/endpoints/hot",
        "/api/unknown",
    ] {
        let url = collector.api_url(path);
        let (code, body) = get(&http, &url, None);
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{path}");
        assert_eq!(
            get(&http, &url, Some(BACKEND_KEY)).0,
            401,
            "{path}: an ingest key"
        );
        assert_ne!(get(&http, &url, Some(READ_TOKEN)).0, 401, "{path}");
    }
    for open in ["/healthz", "/readyz", "/metrics", "/"] {
        let response = http.get(collector.api_url(open)).send().expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{open}");
    }

    let bearer = format!("Bearer {READ_TOKEN}");
    let protocols = format!("tracewire, tracewire.token.{READ_TOKEN}");
    assert_eq!(live(&collector, "", &[]), 401);
    assert_eq!(live(&collector, "?token=twrt_wrong_token_000001", &[]), 401);
    assert_eq!(live(&collector, &format!("?token={READ_TOKEN}"), &[]), 101);
    assert_eq!(live(&collector, "", &[("authorization", &bearer)]), 101);
    assert_eq!(
        live(&collector, "", &[("sec-websocket-protocol", &protocols)]),
        101
    );
}

#[test]
fn sighup_adds_and_removes_keys_and_a_broken_file_keeps_the_previous_one() {
    const NEW_KEY: &str = "twsk_e2e_added_on_sighup_01";
    let setup = Setup::new(&acme("100/s"));
    let collector = setup.collector(&[]);
    let http = http_client();
    let url = collector.otlp_url("/v1/traces");
    let send = |key: &str| {
        export(&http, &url, spans("reload", 1).0)
            .header("x-tracewire-key", key)
            .send()
            .expect("answer")
            .status()
            .as_u16()
    };
    assert_eq!((send(BACKEND_KEY), send(NEW_KEY)), (200, 401));

    // The backend key is replaced by a new one.
    setup.write(&acme("100/s").replace(&sha(BACKEND_KEY), &sha(NEW_KEY)));
    collector.hangup();
    collector.wait_for_log("Access file reloaded", 1);
    assert_eq!((send(BACKEND_KEY), send(NEW_KEY)), (401, 200));

    // A broken file: one line says where, and the keys in force stay.
    setup.write(
        &acme("100/s")
            .replace(&sha(BACKEND_KEY), &sha(NEW_KEY))
            .replace("rate = \"100/s\"", "rate = \"lots\""),
    );
    collector.hangup();
    let log = collector.wait_for_log("Access file not reloaded", 1);
    let line = log
        .lines()
        .find(|l| l.contains("Access file not reloaded"))
        .expect("logged");
    assert!(
        line.contains("tenant \"acme\" ingest_keys[0]: rate: 'lots'"),
        "{line}"
    );
    assert_eq!((send(BACKEND_KEY), send(NEW_KEY)), (401, 200));
    assert_eq!(send(BROWSER_KEY), 200);
}

#[test]
fn the_api_answers_its_own_host_names_and_the_live_tail_its_own_origin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(
        &dir.path().join("tw.db"),
        &[
            "--api-host",
            "tracewire.example",
            "--api-allowed-origin",
            "https://ops.example",
        ],
    );
    let http = http_client();
    let url = collector.api_url("/api/services");
    let with_host = |host: &str| {
        http.get(&url)
            .header("host", host)
            .send()
            .expect("answer")
            .status()
            .as_u16()
    };
    assert_eq!(with_host("rebind.evil.example"), 421, "DNS rebinding");
    assert_eq!(
        with_host("10.1.2.3:4380"),
        421,
        "not the listener's address"
    );
    assert_eq!(with_host("localhost:4380"), 200);
    assert_eq!(with_host("tracewire.example"), 200, "--api-host");
    let own = collector.api.trim_start_matches("http://").to_owned();
    assert_eq!(with_host(&own), 200);

    let origin = |value: &str| live(&collector, "", &[("origin", value)]);
    assert_eq!(origin("https://evil.example"), 403);
    assert_eq!(origin(&collector.api), 101, "the UI's own");
    assert_eq!(origin("https://ops.example"), 101, "--api-allowed-origin");
    assert_eq!(live(&collector, "", &[]), 101, "not a browser");
}

#[test]
fn ingest_facing_the_network_without_an_access_file_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warning = "accepts data from anyone";
    let open = Collector::start_with_args(
        [
            "--otlp-listen",
            "0.0.0.0:0",
            "--api-listen",
            "127.0.0.1:0",
            "--store",
            &format!("sqlite:{}", dir.path().join("a.db").display()),
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    open.wait_for_log(warning, 1);
    let loopback = Collector::start(&dir.path().join("b.db"), &[]);
    let log = loopback.wait_for_log("Storing in", 1);
    assert!(!log.contains(warning), "{log}");
    let setup = Setup::new(&acme("1/s"));
    let guarded = Collector::start_with_args(
        [
            "--otlp-listen",
            "0.0.0.0:0",
            "--api-listen",
            "127.0.0.1:0",
            "--store",
            &format!("sqlite:{}", setup.db().display()),
            "--access",
            &setup.access().display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let log = guarded.wait_for_log("in force", 1);
    assert!(!log.contains(warning), "{log}");
}

fn curl(ca: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn both_listeners_serve_https_and_sighup_reloads_the_certificate() {
    let first = TestCa::new("e2e first CA");
    let server = first.server("collector");
    let setup = Setup::new(&acme("1000/s"));
    let (cert, key) = (
        server.cert.display().to_string(),
        server.key.display().to_string(),
    );
    let collector = setup.collector(&["--tls-cert", &cert, "--tls-key", &key]);
    assert!(collector.otlp.starts_with("https://"), "{}", collector.otlp);
    assert!(collector.api.starts_with("https://"), "{}", collector.api);

    // reqwest with rustls, trusting the test CA only.
    let https = https_client(first.ca());
    let (body, trace) = spans("over tls", 2);
    let sent = https
        .post(collector.otlp_url("/v1/traces"))
        .header("content-type", "application/json")
        .header("x-tracewire-key", BACKEND_KEY)
        .body(body)
        .send()
        .expect("https answer");
    assert_eq!(sent.status().as_u16(), 200);
    let stored: Json = https
        .get(collector.api_url(&format!("/api/traces/{trace}")))
        .bearer_auth(READ_TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("the trace over https");
    assert_eq!(stored["spans"].as_array().map(Vec::len), Some(2));
    assert!(
        http_client()
            .get(collector.api_url("/healthz"))
            .send()
            .is_err(),
        "a client without the test CA does not connect"
    );

    // curl with the CA file.
    let (ok, out) = curl(first.ca(), &[&collector.api_url("/healthz")]);
    assert!(ok && out.contains("ok"), "{out}");

    // A certificate of another CA replaces the files; SIGHUP makes new connections see it.
    let second = TestCa::new("e2e second CA");
    let renewed = second.server("collector");
    std::fs::copy(&renewed.cert, &server.cert).expect("copy");
    std::fs::copy(&renewed.key, &server.key).expect("copy");
    collector.hangup();
    collector.wait_for_log("TLS certificate reloaded", 1);
    let (ok, out) = curl(
        second.ca(),
        &[
            &collector.otlp_url("/v1/traces"),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            "{}",
        ],
    );
    assert!(
        ok && out.contains("401"),
        "the new certificate, and still a key needed: {out}"
    );
    let (ok, out) = curl(first.ca(), &[&collector.api_url("/healthz")]);
    assert!(!ok, "the old CA no longer verifies: {out}");
}

#[test]
fn the_python_sdk_sends_with_its_key_from_the_environment_over_https() {
    let ca = TestCa::new("e2e python CA");
    let server = ca.server("collector");
    let setup = Setup::new(&acme("1000/s"));
    let (cert, key) = (
        server.cert.display().to_string(),
        server.key.display().to_string(),
    );
    let collector = setup.collector(&["--otlp-tls-cert", &cert, "--otlp-tls-key", &key]);
    assert!(collector.otlp.starts_with("https://") && collector.api.starts_with("http://"));
    let python = |headers: &str| {
        let output = otel_send(&collector.otlp, |command| {
            command
                .env("OTEL_EXPORTER_OTLP_HEADERS", headers)
                .env("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.ca())
                // requests lets these override the exporter's CA file; some machines set them.
                .env_remove("REQUESTS_CA_BUNDLE")
                .env_remove("CURL_CA_BUNDLE");
        });
        let sent: Json = serde_json::from_slice(&output.stdout).expect("JSON");
        let trace = sent["spans"][0]["trace_id"].as_str().expect("trace id");
        (
            trace.to_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let http = http_client();
    let (trace, stderr) = python(&format!("x-tracewire-key={BACKEND_KEY}"));
    let url = collector.api_url(&format!("/api/traces/{trace}"));
    let (code, stored) = get(&http, &url, Some(READ_TOKEN));
    assert_eq!(code, 200, "{stored}\n{stderr}\n{}", collector.log());
    assert_eq!(stored["spans"].as_array().map(Vec::len), Some(2));

    let (refused, stderr) = python("x-tracewire-key=twsk_not_granted_000001");
    assert!(
        stderr.contains("401"),
        "the exporter reports the refusal: {stderr}"
    );
    let url = collector.api_url(&format!("/api/traces/{refused}"));
    assert_eq!(get(&http, &url, Some(READ_TOKEN)).0, 404);
}

#[test]
fn clickhouse_over_https_with_a_private_ca() {
    let ca = TestCa::new("e2e clickhouse CA");
    let server = ca.server("clickhouse");
    let test = ClickHouseTest::start_tls("tls_e2e", &server.cert, &server.key);
    assert!(test.front.url().starts_with("https://"));
    let ca_file = ca.ca().display().to_string();
    let collector = test.collector("50ms", &["--clickhouse-ca", &ca_file]);
    assert!(
        collector.log().contains("ClickHouse store open"),
        "{}",
        collector.log()
    );
    let http = http_client();
    let (body, trace) = spans("to clickhouse over tls", 3);
    let sent = export(&http, &collector.otlp_url("/v1/traces"), body)
        .send()
        .expect("answer");
    assert_eq!(sent.status().as_u16(), 200);
    let url = collector.api_url(&format!("/api/traces/{trace}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (code, stored) = get(&http, &url, None);
        if code == 200 {
            assert_eq!(stored["spans"].as_array().map(Vec::len), Some(3));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never shipped:\n{}",
            collector.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(collector);

    // Without the CA the certificate is not trusted: the store reports ClickHouse unreachable.
    let untrusted = test.collector("50ms", &[]);
    assert!(
        untrusted.log().contains("ClickHouse is unreachable"),
        "{}",
        untrusted.log()
    );
}
