//! The in-process gate: one mutex-guarded map, the same lease semantics as Redis, for a
//! single instance with nothing to set up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use app::protocol::UserId;
use async_trait::async_trait;
use tokio::time::Instant;

use super::{Gate, GateError};

#[derive(Default)]
pub struct MemoryGate {
    /// Per user: (holder, lease end).
    slots: Mutex<HashMap<UserId, Vec<(String, Instant)>>>,
}

impl MemoryGate {
    fn with_live<T>(&self, user: UserId, f: impl FnOnce(&mut Vec<(String, Instant)>) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let held = slots.entry(user).or_default();
        held.retain(|(_, end)| *end > now);
        let out = f(held);
        if held.is_empty() {
            slots.remove(&user);
        }
        out
    }
}

#[async_trait]
impl Gate for MemoryGate {
    async fn acquire(&self, user: UserId, holder: &str, max: u32, lease: Duration) -> Result<bool, GateError> {
        let end = Instant::now() + lease;
        Ok(self.with_live(user, |held| {
            if let Some(slot) = held.iter_mut().find(|(h, _)| h == holder) {
                slot.1 = end;
                return true;
            }
            if held.len() < max as usize {
                held.push((holder.to_string(), end));
                return true;
            }
            false
        }))
    }

    async fn renew(&self, user: UserId, holder: &str, lease: Duration) -> Result<bool, GateError> {
        let end = Instant::now() + lease;
        Ok(self.with_live(user, |held| match held.iter_mut().find(|(h, _)| h == holder) {
            Some(slot) => {
                slot.1 = end;
                true
            }
            None => false,
        }))
    }

    async fn release(&self, user: UserId, holder: &str) -> Result<(), GateError> {
        self.with_live(user, |held| held.retain(|(h, _)| h != holder));
        Ok(())
    }
}
