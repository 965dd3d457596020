//! `ExportLogsServiceRequest` into log records.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;

use super::values::{any_to_string, attributes, service_name};
use super::{DecodeError, Decoded, Encoding, optional_id, parse, time_ns};
use crate::model::{Attributes, LogRecord};

/// Decodes a logs export request; records that cannot be stored are counted as rejected.
pub fn decode_logs(body: &[u8], encoding: Encoding) -> Result<Decoded, DecodeError> {
    Ok(logs(parse(body, encoding)?))
}

/// The log records of a parsed logs export request.
pub fn logs(request: ExportLogsServiceRequest) -> Decoded {
    let mut out = Decoded::default();
    for resource_logs in request.resource_logs {
        let resource = resource_logs
            .resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default();
        let service = service_name(&resource);
        for scope_logs in resource_logs.scope_logs {
            let (scope_name, scope_version) = scope_logs
                .scope
                .map(|s| (s.name, s.version))
                .unwrap_or_default();
            for record in scope_logs.log_records {
                out.received += 1;
                match log_record(record, &resource, &service, &scope_name, &scope_version) {
                    Ok(record) => out.batch.logs.push(record),
                    Err(reason) => out.rejected.add(|| format!("log record: {reason}")),
                }
            }
        }
    }
    out.truncated = super::truncate::truncate(&mut out.batch);
    out
}

fn log_record(
    record: OtlpLogRecord,
    resource: &Attributes,
    service: &str,
    scope_name: &str,
    scope_version: &str,
) -> Result<LogRecord, String> {
    let observed_ns = time_ns(record.observed_time_unix_nano, "observed_time_unix_nano")?;
    let timestamp_ns = match time_ns(record.time_unix_nano, "time_unix_nano")? {
        0 => observed_ns,
        t => t,
    };
    Ok(LogRecord {
        tenant: String::new(),
        timestamp_ns,
        observed_ns,
        trace_id: optional_id(&record.trace_id, 16, "trace_id")?,
        span_id: optional_id(&record.span_id, 8, "span_id")?,
        trace_flags: record.flags & 0xff,
        severity_text: record.severity_text,
        severity_number: record.severity_number,
        service_name: service.to_owned(),
        body: any_to_string(record.body),
        scope_name: scope_name.to_owned(),
        scope_version: scope_version.to_owned(),
        resource_attributes: resource.clone(),
        log_attributes: attributes(record.attributes),
        event_name: record.event_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_without_time_uses_observed_time_and_keeps_trace_ids() {
        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
          "scopeLogs":[{"logRecords":[
            {"observedTimeUnixNano":"1700000000000000000","severityNumber":17,"severityText":"ERROR",
             "body":{"stringValue":"TypeError: x is undefined"},"traceId":"5b8efff798038103d269b633813fc60c",
             "spanId":"eee19b7ec3c1b174","attributes":[{"key":"exception.type","value":{"stringValue":"TypeError"}}]},
            {"traceId":"abcd","body":{"stringValue":"bad"}}]}]}]}"#;
        let decoded = decode_logs(json.as_bytes(), Encoding::Json).expect("valid");
        assert_eq!((decoded.received, decoded.rejected.count), (2, 1));
        let log = &decoded.batch.logs[0];
        assert_eq!(log.timestamp_ns, 1_700_000_000_000_000_000);
        assert_eq!(log.service_name, "web");
        assert_eq!(log.severity_number, 17);
        assert_eq!(log.body, "TypeError: x is undefined");
        assert_eq!(log.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(log.log_attributes["exception.type"], "TypeError");
    }
}
