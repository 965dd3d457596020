//! The metric catalogue from what engines read: each engine reports every `(metric, type,
//! service, unit, description)` it saw and every `(metric, type, attribute key)`, and
//! [`assemble`] puts them together the same way for all engines.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{MetricKind, MetricSighting, MetricSummary};

/// One summary per metric name and type, sorted by name then type; the services and keys
/// sorted, the unit and description the greatest seen (so any engine answers the same).
pub fn assemble(
    sightings: impl IntoIterator<Item = MetricSighting>,
    keys: impl IntoIterator<Item = (String, MetricKind, String)>,
) -> Vec<MetricSummary> {
    #[derive(Default)]
    struct Seen {
        unit: String,
        description: String,
        services: BTreeSet<String>,
        keys: BTreeSet<String>,
    }
    let mut metrics: BTreeMap<(String, MetricKind), Seen> = BTreeMap::new();
    for s in sightings {
        let seen = metrics.entry((s.name, s.kind)).or_default();
        seen.unit = seen.unit.clone().max(s.unit);
        seen.description = seen.description.clone().max(s.description);
        seen.services.insert(s.service);
    }
    for (name, kind, key) in keys {
        if let Some(seen) = metrics.get_mut(&(name, kind)) {
            seen.keys.insert(key);
        }
    }
    metrics
        .into_iter()
        .map(|((name, kind), seen)| MetricSummary {
            name,
            kind,
            unit: seen.unit,
            description: seen.description,
            services: seen.services.into_iter().collect(),
            attribute_keys: seen.keys.into_iter().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(name: &str, kind: MetricKind, service: &str, unit: &str) -> MetricSighting {
        MetricSighting {
            name: name.into(),
            kind,
            service: service.into(),
            unit: unit.into(),
            description: String::new(),
        }
    }

    #[test]
    fn sightings_merge_per_name_and_type_in_order() {
        let metrics = assemble(
            [
                sighting("b", MetricKind::Sum, "web", "1"),
                sighting("a", MetricKind::Gauge, "db", "ms"),
                sighting("a", MetricKind::Gauge, "api", "s"),
                sighting("a", MetricKind::Sum, "api", ""),
            ],
            [
                ("a".into(), MetricKind::Gauge, "route".into()),
                ("a".into(), MetricKind::Gauge, "method".into()),
                ("z".into(), MetricKind::Gauge, "ignored".into()),
            ],
        );
        let names: Vec<_> = metrics.iter().map(|m| (m.name.as_str(), m.kind)).collect();
        assert_eq!(
            names,
            [
                ("a", MetricKind::Gauge),
                ("a", MetricKind::Sum),
                ("b", MetricKind::Sum)
            ]
        );
        assert_eq!(metrics[0].services, ["api", "db"]);
        assert_eq!(metrics[0].unit, "s");
        assert_eq!(metrics[0].attribute_keys, ["method", "route"]);
    }
}
