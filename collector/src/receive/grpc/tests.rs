//! The gRPC services on a real socket, through tonic's generated clients.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};

use super::{RetryInfo, StatusDetails, router};
use crate::access::Access;
use crate::decode::{self, Encoding};
use crate::model::{MetricCatalogQuery, MetricKind};
use crate::receive::Ingest;
use crate::receive::budget::MemoryBudget;
use crate::receive::reading::Reading;
use crate::signal::Signal;
use crate::store::{Scope, Store};
use crate::testing::{otlp_metrics, otlp_request, temp_store};

const LIMIT: usize = 64 << 10;

struct Server {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    channel: Channel,
}

async fn server() -> Server {
    serve(|_| Access::open_to_all()).await
}

/// A server whose access comes from `access`, given the test directory.
async fn serve(access: impl FnOnce(&std::path::Path) -> Access) -> Server {
    serve_within(access, MemoryBudget::new(1 << 30)).await
}

/// A server whose requests in flight share `budget`.
async fn serve_within(
    access: impl FnOnce(&std::path::Path) -> Access,
    budget: MemoryBudget,
) -> Server {
    let (dir, store, metrics) = temp_store(10_000).await;
    let ingest = Ingest {
        queue: store.queue().clone(),
        metrics,
        max_body: LIMIT,
        access: Arc::new(access(dir.path())),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let reading = Reading {
        timeout: std::time::Duration::from_secs(10),
        max_body: LIMIT,
        budget,
    };
    tokio::spawn(axum::serve(listener, router(ingest, reading)).into_future());
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    Server {
        _dir: dir,
        store,
        channel,
    }
}

#[tokio::test]
async fn gzip_traces_and_metrics_are_stored_and_bad_points_are_a_partial_success() {
    let server = server().await;
    let mut traces = TraceServiceClient::new(server.channel.clone())
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let answer = traces
        .export(otlp_request(&[(7, 1), (7, 2)]))
        .await
        .expect("exported")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    let spans = server
        .store
        .reader(Scope::default())
        .trace(&hex::encode([7u8; 16]))
        .await
        .expect("reads");
    assert_eq!(spans.len(), 2);

    let mut metrics = MetricsServiceClient::new(server.channel.clone())
        .send_compressed(CompressionEncoding::Gzip);
    // The second point has no time: rejected on its own.
    let answer = metrics
        .export(otlp_metrics(&[(1_700_000_010, 5), (0, 1)]))
        .await
        .expect("exported")
        .into_inner();
    let partial = answer.partial_success.expect("one point rejected");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(partial.error_message.contains("time_unix_nano is required"));
    let catalog = server
        .store
        .reader(Scope::default())
        .metric_catalog(&MetricCatalogQuery {
            start_ns: 1_600_000_000_000_000_000,
            end_ns: 1_800_000_000_000_000_000,
            ..Default::default()
        })
        .await
        .expect("reads");
    assert_eq!(catalog.len(), 1);
    assert_eq!(
        (catalog[0].name.as_str(), catalog[0].kind),
        ("requests", MetricKind::Sum)
    );
    assert_eq!(catalog[0].services, ["svc"]);
}

#[tokio::test]
async fn with_an_access_file_a_key_in_the_metadata_picks_the_tenant_and_its_rate() {
    let server = serve(|dir| {
        let path = dir.join("access.toml");
        // A backend's key is written as its digest.
        std::fs::write(
            &path,
            format!(
                "[[tenants]]\nid = \"acme\"\n\
                 [[tenants.ingest_keys]]\nkey_sha256 = \"{}\"\nrate = \"4/s\"\n",
                hex::encode(crate::access::keys::digest("twsk_grpc_backend_0001"))
            ),
        )
        .expect("writes");
        Access::from_file(&path).expect("valid")
    })
    .await;
    let mut client = TraceServiceClient::new(server.channel.clone());
    let status = client
        .export(otlp_request(&[(8, 1)]))
        .await
        .expect_err("no key");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    let keyed = |key: &str, spans: &[(u8, u8)]| {
        let mut request = tonic::Request::new(otlp_request(spans));
        request
            .metadata_mut()
            .insert("x-tracewire-key", key.parse().expect("ascii"));
        request
    };
    let status = client
        .export(keyed("twsk_unknown", &[(8, 1)]))
        .await
        .expect_err("unknown key");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    client
        .export(keyed("twsk_grpc_backend_0001", &[(8, 1), (8, 2)]))
        .await
        .expect("exported");
    let tenant = |id: &str| Scope::of_tenant(id);
    let spans = server
        .store
        .reader(tenant("acme"))
        .trace(&hex::encode([8u8; 16]))
        .await
        .expect("reads");
    assert_eq!(spans.len(), 2, "stored in the key's tenant");
    assert!(
        server
            .store
            .reader(Scope::default())
            .trace(&hex::encode([8u8; 16]))
            .await
            .expect("reads")
            .is_empty(),
        "and in no other"
    );
    let mut metrics = MetricsServiceClient::new(server.channel.clone());
    let mut request = tonic::Request::new(otlp_metrics(&[(1_700_000_010, 5)]));
    request.metadata_mut().insert(
        "x-tracewire-key",
        "twsk_grpc_backend_0001".parse().expect("ascii"),
    );
    metrics.export(request).await.expect("exported");
    {
        let catalog = |scope: Scope| {
            let store = Arc::clone(&server.store);
            async move {
                store
                    .reader(scope)
                    .metric_catalog(&MetricCatalogQuery {
                        start_ns: 1_600_000_000_000_000_000,
                        end_ns: 1_800_000_000_000_000_000,
                        ..Default::default()
                    })
                    .await
                    .expect("reads")
                    .len()
            }
        };
        assert_eq!(
            catalog(tenant("acme")).await,
            1,
            "metrics in the key's tenant"
        );
        assert_eq!(catalog(Scope::default()).await, 0, "and in no other");
    }
    // Eight more items are over the rate of 4 a second (3 taken): retry later, with a RetryInfo.
    let status = client
        .export(keyed(
            "twsk_grpc_backend_0001",
            &[
                (9, 1),
                (9, 2),
                (9, 3),
                (9, 4),
                (9, 5),
                (9, 6),
                (9, 7),
                (9, 8),
            ],
        ))
        .await
        .expect_err("over the rate");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let details = StatusDetails::decode(status.details()).expect("details");
    assert!(
        details
            .details
            .iter()
            .any(|d| d.type_url.ends_with("RetryInfo")
                && RetryInfo::decode(d.value.as_slice()).is_ok()),
        "{details:?}"
    );
}

#[tokio::test]
async fn a_message_over_the_limit_is_resource_exhausted_compressed_or_not() {
    let server = server().await;
    let points: Vec<(u64, i64)> = (0..5_000).map(|i| (1_700_000_000 + i, i as i64)).collect();
    let big = otlp_metrics(&points);
    assert!(big.encoded_len() > LIMIT);
    for gzip in [false, true] {
        let mut client = MetricsServiceClient::new(server.channel.clone());
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let status = client.export(big.clone()).await.expect_err("too large");
        assert_eq!(
            status.code(),
            tonic::Code::ResourceExhausted,
            "gzip {gzip}: {status:?}"
        );
    }
}

#[tokio::test]
async fn a_store_that_cannot_take_data_answers_unavailable_with_retry_info() {
    let server = server().await;
    server.store.shutdown().await.expect("stops");
    let status = TraceServiceClient::new(server.channel.clone())
        .export(otlp_request(&[(8, 1)]))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let details = StatusDetails::decode(status.details()).expect("google.rpc.Status");
    assert_eq!(
        details.details[0].type_url,
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    let retry = RetryInfo::decode(&details.details[0].value[..]).expect("RetryInfo");
    assert_eq!(retry.retry_delay.expect("delay").seconds, 1);
}

#[tokio::test]
async fn a_message_that_would_decode_into_more_than_the_budget_is_final_compressed_or_not() {
    const BUDGET: u64 = 96 << 10;
    let server = serve_within(|_| Access::open_to_all(), MemoryBudget::new(BUDGET)).await;
    let points: Vec<(u64, i64)> = (0..1_000).map(|i| (1_700_000_000 + i, i as i64)).collect();
    let message = otlp_metrics(&points);
    let encoded = message.encode_to_vec();
    assert!(encoded.len() < LIMIT, "within the message limit");
    assert!(
        decode::memory(Signal::Metrics, &encoded, Encoding::Protobuf) > BUDGET,
        "but its decoded estimate is over the whole budget"
    );
    for gzip in [false, true] {
        let mut client = MetricsServiceClient::new(server.channel.clone());
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let status = client
            .export(message.clone())
            .await
            .expect_err("over budget");
        assert_eq!(
            status.code(),
            tonic::Code::ResourceExhausted,
            "gzip {gzip}: {status:?}"
        );
        assert!(status.details().is_empty(), "final: no RetryInfo");
    }
}

#[tokio::test]
async fn while_the_budget_is_held_elsewhere_a_request_is_unavailable_then_taken() {
    let budget = MemoryBudget::new(1 << 20);
    let server = serve_within(|_| Access::open_to_all(), budget.clone()).await;
    // What HTTP requests in flight would hold: the whole shared budget.
    let held = budget.try_reserve(1 << 20).expect("all of it");
    for gzip in [false, true] {
        let mut client = TraceServiceClient::new(server.channel.clone());
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let status = client
            .export(otlp_request(&[(10, 1)]))
            .await
            .expect_err("no room");
        assert_eq!(
            status.code(),
            tonic::Code::Unavailable,
            "gzip {gzip}: {status:?}"
        );
        let details = StatusDetails::decode(status.details()).expect("google.rpc.Status");
        assert!(details.details[0].type_url.ends_with("RetryInfo"));
    }
    drop(held);
    TraceServiceClient::new(server.channel.clone())
        .send_compressed(CompressionEncoding::Gzip)
        .export(otlp_request(&[(10, 1), (10, 2)]))
        .await
        .expect("taken once there is room");
    assert_eq!(budget.available(), 1 << 20, "and given back once stored");
    let spans = server
        .store
        .reader(Scope::default())
        .trace(&hex::encode([10u8; 16]))
        .await
        .expect("reads");
    assert_eq!(spans.len(), 2);
}
