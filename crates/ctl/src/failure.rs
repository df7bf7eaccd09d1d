//! Errors that end keelctl with etcdctl's exit codes.

use std::fmt;

/// etcdctl's exit codes (`ctlv3/command/error.go`), so scripts see the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitCode {
    /// Any failure of the operation itself.
    Error = 1,
    /// The endpoint could not be reached or the stream broke.
    BadConnection = 2,
    /// Malformed input on stdin (txn, watch).
    InvalidInput = 3,
    /// A valid flag with an unsupported value (e.g. an output format).
    BadFeature = 4,
    /// A watch ended by the server.
    Interrupted = 5,
    /// Wrong arguments.
    BadArgs = 128,
}

/// An error with the exit code keelctl ends with; its message is printed
/// as `Error: <message>`, as etcdctl does.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ExitCode,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Wrong arguments (exit code 128).
    pub(crate) fn bad_args(message: impl Into<String>) -> anyhow::Error {
        Failure::new(ExitCode::BadArgs, message).into()
    }

    /// Unsupported flag value (exit code 4).
    pub(crate) fn bad_feature(message: impl Into<String>) -> anyhow::Error {
        Failure::new(ExitCode::BadFeature, message).into()
    }

    /// Malformed standard input (exit code 3).
    pub(crate) fn invalid_input(message: impl Into<String>) -> anyhow::Error {
        Failure::new(ExitCode::InvalidInput, message).into()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for any error: a [`Failure`]'s own, otherwise 1.
pub(crate) fn exit_code_of(error: &anyhow::Error) -> ExitCode {
    error
        .downcast_ref::<Failure>()
        .map_or(ExitCode::Error, |failure| failure.code)
}
