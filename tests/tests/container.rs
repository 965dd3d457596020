//! The collector image, built and run on a real Docker engine: `examples/deploy/Dockerfile`'s
//! `runtime-prebuilt` target on a local Debian base (made with debootstrap; public images cannot
//! be pulled here), from the repository root with its `.dockerignore`. The container runs as a
//! non-root user, its health check turns healthy on `/readyz`, a span sent in is read back,
//! the data survives `docker restart` and a new container on the same volume, and `docker
//! stop` drains within its timeout with exit code 0. Skipped with a message where Docker cannot start (a failure when
//! `TRACEWIRE_REQUIRE_DOCKER=1`, as the test suite sets it).
//!
//! Needs the release binary: `cargo build --release -p tracewire-collector`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use tracewire_e2e::docker::{self, BASE_IMAGE, docker, docker_ok};
use tracewire_e2e::{http_client, now_ns, workspace_root};

/// How long the health check may take to turn healthy (it runs every second here).
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
/// `docker stop`'s timeout: the collector must be gone before it, by itself.
const STOP_TIMEOUT: u64 = 10;

/// Skips (or fails, when required) with `why`.
fn skip(why: &str) {
    assert!(!docker::required(), "container test cannot run: {why}");
    eprintln!("container: SKIPPED: {why}");
}

/// The release collector of the target directory these tests were built in, or
/// `TRACEWIRE_RELEASE_BIN`.
fn release_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("TRACEWIRE_RELEASE_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?;
    let bin = target.join("release/tracewire-collector");
    bin.exists().then_some(bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Removes the container, volume and image when the test ends, however it ends.
struct Cleanup {
    container: String,
    volume: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.container]);
        docker(&["volume", "rm", "-f", &self.volume]);
        docker(&["rmi", "-f", &self.image]);
    }
}

/// The container's log (the collector logs to stderr).
fn logs(container: &str) -> String {
    let out = docker(&["logs", container]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn health(container: &str) -> String {
    docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", container])
}

fn wait_healthy(container: &str) {
    let deadline = Instant::now() + HEALTHY_WITHIN;
    loop {
        let status = health(container);
        if status == "healthy" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after {HEALTHY_WITHIN:?}; logs:\n{}",
            logs(container)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn span_request(trace: [u8; 16]) -> Vec<u8> {
    let now = now_ns();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("in-a-container".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: trace.to_vec(),
                    span_id: 7u64.to_be_bytes().to_vec(),
                    name: "GET /container".into(),
                    start_time_unix_nano: now,
                    end_time_unix_nano: now + 1_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The names of the spans stored for `trace`.
fn stored_names(api: &str, trace: [u8; 16]) -> Vec<String> {
    let response = http_client()
        .get(format!("{api}/api/traces/{}", hex::encode(trace)))
        .send()
        .expect("api answers");
    if response.status().as_u16() != 200 {
        return Vec::new();
    }
    let body: serde_json::Value = response.json().expect("JSON");
    body["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_collector_image_runs_unprivileged_serves_keeps_its_data_and_stops_cleanly() {
    if let Some(why) = docker::unavailable() {
        return skip(&why);
    }
    let Some(binary) = release_binary() else {
        return skip("no release binary; run cargo build --release -p tracewire-collector");
    };
    let work = tempfile::tempdir().expect("tempdir");
    if let Err(why) = docker::ensure_base_image(work.path()) {
        return skip(&why);
    }

    // The build context is the repository root, as for users; the binary goes where the
    // Dockerfile looks for it when cargo built it elsewhere (CARGO_TARGET_DIR).
    let root = workspace_root();
    let in_context = root.join("target/release/tracewire-collector");
    if std::fs::canonicalize(&binary).ok() != std::fs::canonicalize(&in_context).ok() {
        std::fs::create_dir_all(in_context.parent().expect("dir")).expect("target/release");
        std::fs::copy(&binary, &in_context).expect("binary copied into the context");
    }
    let suffix = format!("{:x}", rand::random::<u32>());
    let cleanup = Cleanup {
        container: format!("tracewire-test-{suffix}"),
        volume: format!("tracewire-test-{suffix}"),
        image: format!("tracewire-test:{suffix}"),
    };
    let build = docker(&[
        "build",
        "-f",
        &root
            .join("examples/deploy/Dockerfile")
            .display()
            .to_string(),
        "--target",
        "runtime-prebuilt",
        "--build-arg",
        &format!("BASE_IMAGE={BASE_IMAGE}"),
        "-t",
        &cleanup.image,
        &root.display().to_string(),
    ]);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(build.status.success(), "docker build failed:\n{output}");
    // The .dockerignore keeps the context to the sources and the one binary.
    let binary_mb = std::fs::metadata(&in_context).expect("binary").len() as f64 / 1e6;
    let context_mb = output
        .lines()
        .find_map(|l| l.strip_prefix("Sending build context to Docker daemon"))
        .and_then(|size| {
            let size = size.trim();
            let (number, unit) = size.split_at(size.find(|c: char| c.is_alphabetic())?);
            let factor = match unit {
                "kB" => 1e-3,
                "MB" => 1.0,
                "GB" => 1e3,
                _ => 1e-6,
            };
            Some(number.trim().parse::<f64>().ok()? * factor)
        })
        .expect("the legacy builder reports the context size");
    assert!(
        context_mb < binary_mb + 50.0,
        "build context is {context_mb} MB for a {binary_mb} MB binary"
    );

    eprintln!("container: build context {context_mb:.1} MB, binary {binary_mb:.1} MB");

    let (otlp, api) = (free_port(), free_port());
    docker_ok(&["volume", "create", &cleanup.volume]);
    let run = |name: &str| {
        docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "--health-interval",
            "1s",
            "-e",
            &format!("TRACEWIRE_OTLP_LISTEN=127.0.0.1:{otlp}"),
            "-e",
            &format!("TRACEWIRE_API_LISTEN=127.0.0.1:{api}"),
            "-v",
            &format!("{}:/var/lib/tracewire", cleanup.volume),
            &cleanup.image,
        ])
    };
    run(&cleanup.container);
    let user = docker_ok(&["exec", &cleanup.container, "id", "-u"]);
    assert_ne!(user, "0", "the collector runs as root");
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.Config.User}}", &cleanup.container]),
        "tracewire"
    );
    assert!(
        docker_ok(&["inspect", "-f", "{{json .Config.Volumes}}", &cleanup.image])
            .contains("/var/lib/tracewire"),
        "the image declares no data volume"
    );
    wait_healthy(&cleanup.container);

    let api = format!("http://127.0.0.1:{api}");
    let trace: [u8; 16] = rand::random();
    let response = http_client()
        .post(format!("http://127.0.0.1:{otlp}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(span_request(trace))
        .send()
        .expect("ingest answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(stored_names(&api, trace), ["GET /container"]);

    docker_ok(&[
        "restart",
        "-t",
        &STOP_TIMEOUT.to_string(),
        &cleanup.container,
    ]);
    wait_healthy(&cleanup.container);
    assert_eq!(
        stored_names(&api, trace),
        ["GET /container"],
        "the span is gone after docker restart"
    );

    let started = Instant::now();
    docker_ok(&["stop", "-t", &STOP_TIMEOUT.to_string(), &cleanup.container]);
    let took = started.elapsed();
    eprintln!("container: docker stop took {took:?}");
    assert!(
        took < Duration::from_secs(STOP_TIMEOUT),
        "docker stop took {took:?}: the collector did not exit on SIGTERM by itself"
    );
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &cleanup.container]),
        "0",
        "exit code after docker stop; logs:\n{}",
        logs(&cleanup.container)
    );
    let log = logs(&cleanup.container);
    assert!(log.contains("Stopped"), "no clean stop in the logs:\n{log}");

    // A new container on the same volume has the data: it lives on the volume, not in the
    // container's own layer.
    docker_ok(&["rm", &cleanup.container]);
    run(&cleanup.container);
    wait_healthy(&cleanup.container);
    assert_eq!(
        stored_names(&api, trace),
        ["GET /container"],
        "the span is not on the volume"
    );
    drop(cleanup);
}
