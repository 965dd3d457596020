use super::*;
use crate::model::{Attributes, HistogramValue, Temporality};

const S: i64 = 1_000_000_000;

fn point(attrs: &[(&str, &str)], start: i64, time: i64, value: PointValue) -> SeriesPoint {
    SeriesPoint {
        service_name: "api".into(),
        resource_attributes: Attributes::from([("service.name".into(), "api".into())]),
        attributes: attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        start_time_ns: start,
        time_ns: time,
        flags: 0,
        value,
    }
}

fn counter(value: f64) -> PointValue {
    PointValue::Sum {
        value,
        temporality: Temporality::Cumulative,
        monotonic: true,
    }
}

fn steps() -> Steps {
    Steps {
        start_ns: 100 * S,
        end_ns: 160 * S,
        step_ns: 20 * S,
    }
}

#[test]
fn cumulative_counters_grow_across_resets_and_start_from_their_start_time() {
    let steps = steps();
    let from = read_from(MetricKind::Sum, Agg::Increase, &steps);
    let points = vec![
        // Seen before the window: the first step grows from it.
        point(&[("route", "/a")], 10 * S, 95 * S, counter(5.0)),
        point(&[("route", "/a")], 10 * S, 105 * S, counter(8.0)),
        point(&[("route", "/a")], 10 * S, 115 * S, counter(12.0)),
        // A restart: a later start time; its whole value counts.
        point(&[("route", "/a")], 120 * S, 125 * S, counter(3.0)),
        // Another series, started inside what was read: its first value counts whole.
        point(&[("route", "/b")], 90 * S, 110 * S, counter(2.0)),
    ];
    let out = compute(
        points.clone(),
        MetricKind::Sum,
        Agg::Increase,
        &[],
        &steps,
        from,
    )
    .expect("sums take increase");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].values, [Some(9.0), Some(3.0), None]);

    let by_route = compute(
        points,
        MetricKind::Sum,
        Agg::Rate,
        &["route".to_owned()],
        &steps,
        from,
    )
    .expect("sums take rate");
    assert_eq!(by_route.len(), 2);
    assert_eq!(by_route[0].labels["route"], "/a");
    assert_eq!(
        by_route[0].values,
        [Some(7.0 / 20.0), Some(3.0 / 20.0), None]
    );
    assert_eq!(by_route[1].values, [Some(2.0 / 20.0), None, None]);
}

#[test]
fn deltas_add_up_and_gauges_aggregate_points() {
    let steps = steps();
    let delta = |v| PointValue::Sum {
        value: v,
        temporality: Temporality::Delta,
        monotonic: false,
    };
    let points = vec![
        point(&[], 0, 101 * S, delta(1.0)),
        point(&[], 0, 102 * S, delta(-4.0)),
        point(&[], 0, 150 * S, delta(2.5)),
    ];
    let from = read_from(MetricKind::Sum, Agg::Increase, &steps);
    let out = compute(
        points.clone(),
        MetricKind::Sum,
        Agg::Increase,
        &[],
        &steps,
        from,
    )
    .expect("increase");
    assert_eq!(out[0].values, [Some(-3.0), None, Some(2.5)]);
    // Up-down counters take gauge aggregations.
    let out = compute(
        points,
        MetricKind::Sum,
        Agg::Max,
        &[],
        &steps,
        steps.start_ns,
    )
    .expect("max");
    assert_eq!(out[0].values, [Some(1.0), None, Some(2.5)]);

    let gauge = |v| PointValue::Gauge { value: v };
    let points = vec![
        point(&[("host", "a")], 0, 100 * S, gauge(1.0)),
        point(&[("host", "b")], 0, 105 * S, gauge(3.0)),
        point(&[("host", "a")], 0, 119 * S, gauge(5.0)),
    ];
    for (agg, want) in [
        (Agg::Avg, 3.0),
        (Agg::Min, 1.0),
        (Agg::Max, 5.0),
        (Agg::Sum, 9.0),
        (Agg::Last, 5.0),
    ] {
        let out = compute(
            points.clone(),
            MetricKind::Gauge,
            agg,
            &[],
            &steps,
            steps.start_ns,
        )
        .expect("gauge");
        assert_eq!(out[0].values, [Some(want), None, None], "{agg:?}");
    }
}

#[test]
fn gauge_aggregations_of_counters_and_foreign_aggregations_are_mismatches() {
    let steps = steps();
    let points = vec![point(&[], 0, 101 * S, counter(1.0))];
    assert_eq!(
        compute(points, MetricKind::Sum, Agg::Avg, &[], &steps, 0),
        Err(Mismatch::Monotonic)
    );
    assert!(check(MetricKind::Gauge, Agg::Rate).is_err());
    assert!(check(MetricKind::Histogram, Agg::Avg).is_err());
    assert!(check(MetricKind::Histogram, Agg::Quantile(0.99)).is_ok());
    assert!(check(MetricKind::Summary, Agg::Count).is_ok());
}

#[test]
fn cumulative_histograms_merge_their_growth_per_bound() {
    let steps = steps();
    let histogram = |counts: [u64; 3]| {
        PointValue::Histogram(HistogramValue {
            count: counts.iter().sum(),
            sum: 0.0,
            bucket_counts: counts.to_vec(),
            explicit_bounds: vec![10.0, 20.0],
            min: 0.0,
            max: 0.0,
            temporality: Temporality::Cumulative,
        })
    };
    let points = vec![
        point(&[], 10 * S, 95 * S, histogram([1, 1, 0])),
        // Grew by 4 below 10 and 4 in (10, 20].
        point(&[], 10 * S, 105 * S, histogram([5, 5, 0])),
    ];
    let from = read_from(MetricKind::Histogram, Agg::Count, &steps);
    let count = compute(
        points.clone(),
        MetricKind::Histogram,
        Agg::Count,
        &[],
        &steps,
        from,
    )
    .expect("count");
    assert_eq!(count[0].values, [Some(8.0), None, None]);
    let p50 = compute(
        points,
        MetricKind::Histogram,
        Agg::Quantile(0.5),
        &[],
        &steps,
        from,
    )
    .expect("p50");
    assert_eq!(p50[0].values, [Some(10.0), None, None]);
}

#[test]
fn steps_cover_the_window_and_locate_times() {
    let s = steps();
    assert_eq!(s.count(), 3);
    assert_eq!(s.index(100 * S), Some(0));
    assert_eq!(s.index(159 * S), Some(2));
    assert_eq!(s.index(160 * S), None);
    assert_eq!(s.index(99 * S), None);
    assert_eq!(s.time(2), 140 * S);
}
