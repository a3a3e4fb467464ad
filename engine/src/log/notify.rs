//! Waking readers that block until a partition has something new to read.
//!
//! A [`ReadWaiter`] belongs to one reader (a consumer) and is registered with every partition
//! it reads ([`PartitionLog::register_waiter`](crate::log::PartitionLog::register_waiter)).
//! Whenever a partition's visible end moves (its high watermark or last stable offset — every
//! append, marker and durability advance goes through one place), the partition bumps the
//! generation of each registered waiter. A reader therefore:
//!
//! 1. reads [`ReadWaiter::generation`],
//! 2. reads its partitions,
//! 3. if nothing was there, calls [`ReadWaiter::wait_for_change`] with the generation from
//!    step 1, which returns at once if anything moved since.
//!
//! The append path pays one fence and one relaxed load when no reader is registered, and takes
//! a short lock only when one is. There are no lost wake-ups: the partition publishes its new
//! offsets *before* it looks for waiters, and a waiter is registered *before* its owner first
//! reads the offsets, both separated by sequentially consistent fences (the Dekker pattern), so
//! either the reader sees the new offsets or the partition sees the waiter.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A reader's wake-up channel: a generation counter and a condition variable.
#[derive(Debug, Default)]
pub struct ReadWaiter {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl ReadWaiter {
    /// A new waiter, to be registered with the partitions its owner reads.
    pub fn new() -> Arc<ReadWaiter> {
        Arc::new(ReadWaiter::default())
    }

    /// The current generation. Read it *before* looking at the partitions.
    pub fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Bumps the generation and wakes the owner (partitions call this; so can another thread
    /// that wants a blocked reader to return early).
    pub fn notify(&self) {
        let mut g = self.generation.lock();
        *g = g.wrapping_add(1);
        self.changed.notify_all();
    }

    /// Blocks until the generation differs from `seen` or `timeout` passes; returns the current
    /// generation.
    pub fn wait_for_change(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut g = self.generation.lock();
        while *g == seen {
            match deadline {
                Some(d) => {
                    if self.changed.wait_until(&mut g, d).timed_out() {
                        break;
                    }
                }
                None => self.changed.wait(&mut g),
            }
        }
        *g
    }
}

/// The waiters registered with one partition.
#[derive(Debug, Default)]
pub(crate) struct ReadWaiters {
    /// Fast check for the append path: true while the list may be non-empty.
    any: AtomicBool,
    list: Mutex<Vec<Weak<ReadWaiter>>>,
}

impl ReadWaiters {
    pub(crate) fn register(&self, waiter: &Arc<ReadWaiter>) {
        let mut list = self.list.lock();
        list.retain(|w| w.strong_count() > 0);
        if !list.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(waiter))) {
            list.push(Arc::downgrade(waiter));
        }
        self.any.store(true, Ordering::SeqCst);
        // Pairs with the fence in `notify_all`: the owner reads the offsets after this.
        fence(Ordering::SeqCst);
    }

    pub(crate) fn unregister(&self, waiter: &Arc<ReadWaiter>) {
        let mut list = self.list.lock();
        list.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(waiter)));
        if list.is_empty() {
            self.any.store(false, Ordering::SeqCst);
        }
    }

    /// Called after the partition published new offsets.
    pub(crate) fn notify_all(&self) {
        // Pairs with the fence in `register`: the offsets were stored before this.
        fence(Ordering::SeqCst);
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        for w in self.list.lock().iter().filter_map(Weak::upgrade) {
            w.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_before_the_wait_is_not_lost() {
        let w = ReadWaiter::new();
        let seen = w.generation();
        w.notify();
        assert_ne!(w.wait_for_change(seen, Duration::from_secs(3600)), seen);
    }

    #[test]
    fn registered_waiters_are_woken_and_unregistered_ones_are_not() {
        let waiters = ReadWaiters::default();
        let (a, b) = (ReadWaiter::new(), ReadWaiter::new());
        waiters.register(&a);
        waiters.register(&a);
        waiters.register(&b);
        assert_eq!(waiters.list.lock().len(), 2, "registering twice keeps one entry");
        waiters.unregister(&b);
        let (ga, gb) = (a.generation(), b.generation());
        waiters.notify_all();
        assert_eq!((a.generation(), b.generation()), (ga + 1, gb));
        waiters.unregister(&a);
        assert!(!waiters.any.load(Ordering::SeqCst));
    }

    #[test]
    fn a_blocked_waiter_wakes_up_from_another_thread() {
        let w = ReadWaiter::new();
        let seen = w.generation();
        let w2 = w.clone();
        let t = std::thread::spawn(move || w2.wait_for_change(seen, Duration::from_secs(3600)));
        w.notify();
        assert_ne!(t.join().unwrap(), seen);
    }
}
