//! x
pub mod clickhouse_front;
