//! What every binding object shares with the engine it came from: whether the engine is closed,
//! and which process opened it.
//!
//! `fork()` copies the engine's memory into the child but not its threads (the background
//! flusher, a producer's linger thread) nor, meaningfully, its io_uring ring and directory lock.
//! Like delta-rs does for its runtime, the binding remembers the PID that opened the engine and
//! refuses every call from another process with `ForkedProcessError`. [`ForkSafe`] makes sure a
//! child does not run the parent's shutdown either when its copies of the objects are collected.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

use crate::errors;

/// Shared by an `Engine` and every producer, consumer and partition handle made from it.
#[derive(Debug)]
pub(crate) struct EngineHandle {
    pid: u32,
    closed: AtomicBool,
    path: PathBuf,
}

impl EngineHandle {
    /// A handle for an engine just opened at `path` by this process.
    pub(crate) fn new(path: PathBuf) -> Self {
        EngineHandle { pid: std::process::id(), closed: AtomicBool::new(false), path }
    }

    /// The data directory.
    pub(crate) fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Whether `close()` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the engine closed; returns whether it already was.
    pub(crate) fn mark_closed(&self) -> bool {
        self.closed.swap(true, Ordering::AcqRel)
    }

    /// Fails in a forked child.
    pub(crate) fn check_process(&self) -> PyResult<()> {
        let now = std::process::id();
        if now != self.pid {
            return Err(errors::forked(self.pid, now, &self.path));
        }
        Ok(())
    }

    /// Fails in a forked child or once the engine is closed; every call into the engine starts
    /// here.
    pub(crate) fn check(&self) -> PyResult<()> {
        self.check_process()?;
        if self.is_closed() {
            return Err(errors::closed(&format!("the engine at {}", self.path.display())));
        }
        Ok(())
    }
}

/// A value dropped only in the process that created it. After `fork()` the child's copy is
/// leaked instead: dropping an `Engine`, `Producer` or `Consumer` runs its shutdown (flushes,
/// checkpoints, clean-shutdown marker, joins of threads that do not exist in the child), which
/// must never happen from a copy of the parent's memory.
#[derive(Debug)]
pub(crate) struct ForkSafe<T> {
    pid: u32,
    value: Option<T>,
}

impl<T> ForkSafe<T> {
    /// Wraps `value`, owned by this process.
    pub(crate) fn new(value: T) -> Self {
        ForkSafe { pid: std::process::id(), value: Some(value) }
    }
}

impl<T> Deref for ForkSafe<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // `value` is `Some` from `new` until `drop`; nothing else takes it.
        self.value.as_ref().expect("ForkSafe holds its value until dropped")
    }
}

impl<T> Drop for ForkSafe<T> {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            std::mem::forget(self.value.take());
        }
    }
}
