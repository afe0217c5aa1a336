//! The error taxonomy: every failed request is counted under exactly one kind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a request failed. A failed request is data, never an abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The target refused the TCP connection.
    ConnectRefused,
    /// The TCP (or TLS) connection could not be set up within the connect timeout.
    ConnectTimeout,
    /// Any other failure to connect (no route, address in use, DNS).
    Connect,
    /// The TLS handshake failed (bad certificate, no common protocol).
    Tls,
    /// No complete response within the request timeout.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// The response was not valid HTTP.
    Protocol,
    /// The response arrived with an error status (or one the plan's checks rejected).
    Status(u16),
    /// A check on the response failed (status, body or latency), counted separately from transport errors.
    Check,
    /// A SQL statement failed; the database said why.
    Sql(SqlError),
}

/// Why the database refused or lost a statement, from its SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SqlError {
    /// The connection was closed or lost (`pg_terminate_backend`, a restart, a network cut).
    ConnectionLost,
    /// 40P01: chosen as a deadlock victim.
    Deadlock,
    /// 40001: a serializable or repeatable-read transaction conflicted.
    Serialization,
    /// 57014: cancelled by `statement_timeout` or a cancel request.
    StatementTimeout,
    /// 23505.
    UniqueViolation,
    /// 23503.
    ForeignKeyViolation,
    /// Class 42: a syntax error, or a table, column or function that does not exist.
    Syntax,
    /// 53300: the server's connection limit was reached (`max_connections`).
    TooManyConnections,
    /// Any other SQLSTATE, kept as its five characters.
    Other([u8; 5]),
}

impl SqlError {
    /// The kind of a SQLSTATE (`40P01`…).
    pub fn from_sqlstate(code: &str) -> SqlError {
        match code {
            "40P01" => SqlError::Deadlock,
            "40001" => SqlError::Serialization,
            "57014" => SqlError::StatementTimeout,
            "23505" => SqlError::UniqueViolation,
            "23503" => SqlError::ForeignKeyViolation,
            "53300" => SqlError::TooManyConnections,
            _ if code.starts_with("42") => SqlError::Syntax,
            // Admin shutdown, crash shutdown, cannot connect now; connection exceptions.
            _ if code.starts_with("57P") || code.starts_with("08") => SqlError::ConnectionLost,
            _ => match <[u8; 5]>::try_from(code.as_bytes()) {
                Ok(state) if state.iter().all(u8::is_ascii_alphanumeric) => SqlError::Other(state),
                _ => SqlError::Other(*b"XX000"),
            },
        }
    }

    fn name(&self) -> String {
        match self {
            SqlError::ConnectionLost => "connection_lost".into(),
            SqlError::Deadlock => "deadlock".into(),
            SqlError::Serialization => "serialization_failure".into(),
            SqlError::StatementTimeout => "statement_timeout".into(),
            SqlError::UniqueViolation => "unique_violation".into(),
            SqlError::ForeignKeyViolation => "foreign_key_violation".into(),
            SqlError::Syntax => "syntax_or_undefined".into(),
            SqlError::TooManyConnections => "too_many_connections".into(),
            SqlError::Other(state) => String::from_utf8_lossy(state).into_owned(),
        }
    }

    fn parse(name: &str) -> Option<SqlError> {
        Some(match name {
            "connection_lost" => SqlError::ConnectionLost,
            "deadlock" => SqlError::Deadlock,
            "serialization_failure" => SqlError::Serialization,
            "statement_timeout" => SqlError::StatementTimeout,
            "unique_violation" => SqlError::UniqueViolation,
            "foreign_key_violation" => SqlError::ForeignKeyViolation,
            "syntax_or_undefined" => SqlError::Syntax,
            "too_many_connections" => SqlError::TooManyConnections,
            other => {
                let state = <[u8; 5]>::try_from(other.as_bytes()).ok()?;
                state
                    .iter()
                    .all(u8::is_ascii_alphanumeric)
                    .then_some(SqlError::Other(state))?
            }
        })
    }

    /// A conflict that a retried transaction may not meet again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SqlError::Deadlock | SqlError::Serialization)
    }
}

impl ErrorKind {
    /// Short stable name used in result files and reports.
    pub fn name(&self) -> String {
        match self {
            ErrorKind::ConnectRefused => "connect_refused".into(),
            ErrorKind::ConnectTimeout => "connect_timeout".into(),
            ErrorKind::Connect => "connect".into(),
            ErrorKind::Tls => "tls".into(),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Reset => "reset".into(),
            ErrorKind::Protocol => "protocol".into(),
            ErrorKind::Status(code) => format!("http_{code}"),
            ErrorKind::Check => "check".into(),
            ErrorKind::Sql(e) => format!("sql_{}", e.name()),
        }
    }

    /// The family a kind belongs to: `transport`, `http_4xx`, `http_5xx`, `check`, `sql`.
    pub fn class(&self) -> &'static str {
        match self {
            ErrorKind::Status(code) => match code {
                100..=199 => "http_1xx",
                200..=299 => "http_2xx",
                300..=399 => "http_3xx",
                400..=499 => "http_4xx",
                _ => "http_5xx",
            },
            ErrorKind::Check => "check",
            ErrorKind::Sql(SqlError::ConnectionLost) => "transport",
            ErrorKind::Sql(_) => "sql",
            _ => "transport",
        }
    }

    pub fn is_transport(&self) -> bool {
        self.class() == "transport"
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A string that names no error kind.
#[derive(Debug, thiserror::Error)]
#[error("unknown error kind `{0}`")]
pub struct UnknownErrorKind(String);

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "connect_refused" => ErrorKind::ConnectRefused,
            "connect_timeout" => ErrorKind::ConnectTimeout,
            "connect" => ErrorKind::Connect,
            "tls" => ErrorKind::Tls,
            "timeout" => ErrorKind::Timeout,
            "reset" => ErrorKind::Reset,
            "protocol" => ErrorKind::Protocol,
            "check" => ErrorKind::Check,
            other => {
                if let Some(code) = other.strip_prefix("http_").and_then(|c| c.parse().ok()) {
                    ErrorKind::Status(code)
                } else if let Some(e) = other.strip_prefix("sql_").and_then(SqlError::parse) {
                    ErrorKind::Sql(e)
                } else {
                    return Err(UnknownErrorKind(other.to_string()));
                }
            }
        })
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [
            ErrorKind::ConnectRefused,
            ErrorKind::ConnectTimeout,
            ErrorKind::Connect,
            ErrorKind::Tls,
            ErrorKind::Timeout,
            ErrorKind::Reset,
            ErrorKind::Protocol,
            ErrorKind::Status(503),
            ErrorKind::Check,
            ErrorKind::Sql(SqlError::Deadlock),
            ErrorKind::Sql(SqlError::Syntax),
            ErrorKind::Sql(SqlError::from_sqlstate("22P02")),
        ] {
            assert_eq!(kind.name().parse::<ErrorKind>().unwrap(), kind);
        }
        assert!("http_abc".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(ErrorKind::Status(404).class(), "http_4xx");
        assert_eq!(ErrorKind::Status(503).class(), "http_5xx");
        assert!(ErrorKind::Reset.is_transport());
        assert!(!ErrorKind::Check.is_transport());
    }
}
