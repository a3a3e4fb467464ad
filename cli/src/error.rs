//! Error classes of the command line and their exit statuses.
//!
//! Every failure the CLI reports belongs to one class, and each class has its own exit status,
//! so scripts can tell "the file is damaged" from "the path is wrong" without parsing messages.
//! The table is printed by `eoslog --help` (see [`EXIT_CODES_HELP`]).

use std::fmt;
use std::io;
use std::path::Path;

use eoslog::{Error, StorageError};

/// What kind of failure ended the command; each maps to one exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A check failed (the demo found a lost, duplicated or visible aborted record) or the
    /// engine refused an operation (unknown topic, fenced producer, ...).
    Failed,
    /// Bad command line: unknown flag, missing or invalid argument (clap's own status).
    Usage,
    /// The path given does not exist.
    NotFound,
    /// The path exists but cannot be read (permissions, not a directory, other I/O errors).
    Unreadable,
    /// The path is readable but is not an eoslog or Kafka log directory or file.
    NotALog,
    /// Log data is damaged: bad CRC, torn or invalid batches, inconsistent indexes or state.
    Damaged,
    /// The data directory is held by another eoslog process.
    Locked,
    /// An input line (`eoslog produce`) is not a valid JSON record.
    BadInput,
    /// A bug in eoslog (please report it).
    Internal,
}

impl Class {
    /// The process exit status of this class.
    pub fn code(self) -> i32 {
        match self {
            Class::Failed => 1,
            Class::Usage => 2,
            Class::NotFound => 3,
            Class::Unreadable => 4,
            Class::NotALog => 5,
            Class::Damaged => 6,
            Class::Locked => 7,
            Class::BadInput => 8,
            Class::Internal => 70,
        }
    }
}

/// The exit-status table, as a literal for `concat!` (see [`EXIT_CODES_HELP`]).
macro_rules! exit_codes_help {
    () => {
        "\
Exit status:
  0   success
  1   a demo check failed, or the engine refused the operation (unknown topic, fenced producer)
  2   usage error: unknown flag, missing or invalid argument
  3   the path does not exist
  4   the path cannot be read (permission denied, not a directory, I/O error)
  5   the path is not an eoslog/Kafka data directory, partition directory or log file
  6   damaged data: verify found errors, dump met a corrupt batch or file, or recovery refused
  7   the data directory is locked by another eoslog process
  8   bad input: a line given to `produce` is not a valid JSON record
  70  internal error (a bug; please report it)"
    };
}

/// The exit-status table shown at the end of `eoslog --help`.
pub const EXIT_CODES_HELP: &str = exit_codes_help!();

/// An error with its class and a message for the user.
#[derive(Debug)]
pub struct CliError {
    /// The class (exit status).
    pub class: Class,
    /// What went wrong, in words.
    pub message: String,
}

impl CliError {
    /// An error of `class` with `message`.
    pub fn new(class: Class, message: impl Into<String>) -> CliError {
        CliError { class, message: message.into() }
    }

    /// An I/O error on `path`, classified by its kind.
    pub fn io(what: &str, path: &Path, e: &io::Error) -> CliError {
        let class = if e.kind() == io::ErrorKind::NotFound { Class::NotFound } else { Class::Unreadable };
        CliError::new(class, format!("{what} {}: {e}", path.display()))
    }

    /// Adds context in front of the message.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> CliError {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        let class =
            match &e {
                Error::Storage(StorageError::Io { source, .. }) => {
                    if source.kind() == io::ErrorKind::NotFound { Class::NotFound } else { Class::Unreadable }
                }
                Error::Storage(StorageError::Corrupt { .. }) | Error::Batch(_) => Class::Damaged,
                Error::Storage(StorageError::Locked(_)) => Class::Locked,
                _ => Class::Failed,
            };
        let message = match &e {
            Error::Storage(StorageError::Locked(p)) => format!(
                "the data directory {} is in use by another eoslog process (close it first)",
                p.display()
            ),
            _ => e.to_string(),
        };
        CliError::new(class, message)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError::new(Class::Unreadable, e.to_string())
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Writes to stdout may fail with a closed pipe (`eoslog consume | head`): that ends the
/// command quietly and successfully, as `cat` does.
pub fn is_broken_pipe(e: &CliError) -> bool {
    e.class == Class::Unreadable && e.message.contains("Broken pipe")
}

/// Converts a write error on stdout.
pub fn stdout_error(e: io::Error) -> CliError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CliError::new(Class::Unreadable, "Broken pipe")
    } else {
        CliError::new(Class::Unreadable, format!("writing to standard output: {e}"))
    }
}
