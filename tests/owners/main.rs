//! The owner walk over this very process's descriptors. A binary of its own, and one test at a
//! time, so that nothing else opens or closes a descriptor in this process meanwhile.

mod cache;
mod many;
mod sparse;

use std::sync::{Mutex, MutexGuard};

/// Held by each test for its whole run.
fn alone() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}
