//! One error type whose kind fixes the exit code (SPEC §2).
use std::fmt;

/// What went wrong, and so how the process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad command line or pipeline file: exit 2.
    Usage,
    /// Something failed while running: exit 1.
    Runtime,
    /// A file's rejected rows exceeded `ingest.max_reject_ratio`: exit 3.
    QualityGate,
    /// Another command holds the store's lock: exit 4.
    Locked,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Runtime => 1,
            ErrorKind::Usage => 2,
            ErrorKind::QualityGate => 3,
            ErrorKind::Locked => 4,
        }
    }
}

/// A user-facing error: what is wrong, where, and how to fix it.
#[derive(Debug)]
pub struct KocError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl KocError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        KocError {
            kind,
            message: message.into(),
            hint: None,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for KocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  fix: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for KocError {}

/// The exit code for an error chain: the first `KocError` in it decides, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<KocError>())
        .map(|e| e.kind.exit_code())
        .unwrap_or(1)
}

/// Shorthand for a pipeline-file or usage error (exit 2).
pub fn usage_err(message: impl Into<String>) -> anyhow::Error {
    KocError::usage(message).into()
}
