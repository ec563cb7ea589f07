//! The object bytes held in memory at once. Each streamed object or block reserves its size
//! before its GET starts and gives it back once its upload is done, so however many requests
//! are in flight, memory stays under the budget.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reservations are counted in units of this many bytes (a semaphore takes at most `u32`
/// permits at once); a reservation takes at least one.
const UNIT: u64 = 64 << 10;

/// A budget of bytes in memory.
#[derive(Debug)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    units: u32,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least one unit).
    pub fn new(bytes: u64) -> Self {
        let units = bytes.div_ceil(UNIT).clamp(1, u64::from(u32::MAX)) as u32;
        Self {
            semaphore: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Waits until `bytes` fit, and holds them until the reservation is dropped. Anything
    /// larger than the whole budget waits for all of it, then goes alone.
    pub async fn reserve(&self, bytes: u64) -> OwnedSemaphorePermit {
        let units = bytes.div_ceil(UNIT).clamp(1, u64::from(self.units)) as u32;
        self.semaphore
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_room() {
        let budget = MemoryBudget::new(4 * UNIT);
        let first = budget.reserve(3 * UNIT).await;
        let small = budget.reserve(1).await;
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), budget.reserve(UNIT))
                .await
                .is_err(),
            "the budget is spent"
        );
        drop(small);
        drop(first);
        let whole = budget.reserve(100 * UNIT).await;
        assert_eq!(
            whole.num_permits(),
            4,
            "larger than the budget: takes all of it"
        );
    }
}
