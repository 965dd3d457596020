//! What the ClickHouse store can fail with; the spool's own errors are [`SpoolError`].
//!
//! [`SpoolError`]: super::SpoolError

/// ClickHouse error codes that mean the rows themselves are unacceptable; retrying cannot help.
const BAD_DATA_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    469, // VIOLATED_CONSTRAINT
];

/// An error of the ClickHouse store.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// ClickHouse answered with an error or could not be reached.
    #[error("{0}")]
    Server(#[from] clickhouse::error::Error),
    /// The database was written by a newer collector.
    #[error(
        "the database has schema version {found}, newer than the {supported} this collector knows; upgrade the collector"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The schema is not there and the collector may not create it.
    #[error("{0}")]
    SchemaMissing(String),
    /// A batch's rows could not be encoded for the spool.
    #[error("cannot encode rows for the spool: {0}")]
    Encode(#[from] super::rowbinary::RowBinaryError),
    /// A value could not be written as JSON (metric points for the spool, alert bodies).
    #[error("cannot encode as JSON: {0}")]
    EncodeJson(#[from] serde_json::Error),
    /// A stored JSON body did not parse (the table was changed outside the collector).
    #[error("corrupt stored value: {0}")]
    Decode(serde_json::Error),
    /// The CA file for an `https://` server is not usable.
    #[error("--clickhouse-ca: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

impl ClickHouseError {
    /// Whether trying again may succeed: ClickHouse was unreachable or failed for a reason
    /// other than the data itself.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Server(e) => !is_bad_data(e),
            Self::SchemaTooNew { .. }
            | Self::SchemaMissing(_)
            | Self::Encode(_)
            | Self::EncodeJson(_)
            | Self::Decode(_)
            | Self::Tls(_) => false,
        }
    }

    /// Whether the server was not reached (or did not answer) at all.
    pub(super) fn is_unreachable(&self) -> bool {
        matches!(self, Self::Server(e) if is_unreachable(e))
    }
}

/// The ClickHouse exception code in an error answer (`Code: N. DB::Exception: ...`).
pub(super) fn exception_code(error: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(text) = error else {
        return None;
    };
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether the error means the server was not reached (or did not answer) at all.
pub(super) fn is_unreachable(error: &clickhouse::error::Error) -> bool {
    matches!(
        error,
        clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut
    )
}

/// Whether ClickHouse refused the rows themselves, so that sending them again cannot help.
pub(super) fn is_bad_data(error: &clickhouse::error::Error) -> bool {
    exception_code(error).is_some_and(|code| BAD_DATA_CODES.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_error_answers() {
        let bad = clickhouse::error::Error::BadResponse(
            "Code: 469. DB::Exception: Constraint `c` for table t is violated. (VIOLATED_CONSTRAINT)"
                .into(),
        );
        assert_eq!(exception_code(&bad), Some(469));
        assert!(is_bad_data(&bad));
        let down = clickhouse::error::Error::BadResponse(
            "Code: 242. DB::Exception: Table is in readonly mode".into(),
        );
        assert!(!is_bad_data(&down));
        assert!(!is_bad_data(&clickhouse::error::Error::TimedOut));
    }
}
