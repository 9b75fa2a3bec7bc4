//! The in-process gate: one mutex-guarded map, the same semantics as the Redis gate, for a
//! single instance with nothing to set up. Its clock is the system's wall clock (there is only
//! one instance to agree with); leases use the monotonic clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use app::protocol::{UserId, Window};
use async_trait::async_trait;
use tokio::time::Instant;

use super::{Admission, Ask, Baseline, Gate, GateError, Limits, Usage, Verdict, WindowIds};

#[derive(Default)]
struct UserState {
    /// (holder, lease end).
    slots: Vec<(String, Instant)>,
    /// Counts per (window, id); only current windows are kept.
    windows: HashMap<(Window, i64), u32>,
    /// Spend per month id.
    spend: HashMap<i64, i64>,
    /// (holder that started it, end in Unix ms).
    cooldown: Option<(String, i64)>,
}

impl UserState {
    fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.windows.is_empty() && self.spend.is_empty() && self.cooldown.is_none()
    }

    /// Drops what has expired at `now`, like Redis's key expiry.
    fn expire(&mut self, now: Instant, now_ms: i64, ids: WindowIds) {
        self.slots.retain(|(_, end)| *end > now);
        self.windows.retain(|(w, id), _| *id == ids.of(*w));
        self.spend.retain(|month, _| *month == ids.month);
        if self.cooldown.as_ref().is_some_and(|(_, end)| *end <= now_ms) {
            self.cooldown = None;
        }
    }

    /// Counts the database remembers for windows this state has not seen.
    fn seed(&mut self, ids: WindowIds, baseline: &Baseline) {
        for (i, w) in Window::ALL.into_iter().enumerate() {
            let from_db = if baseline.ids.of(w) == ids.of(w) { baseline.used[i] } else { 0 };
            self.windows.entry((w, ids.of(w))).or_insert(from_db);
        }
        let spent = if baseline.ids.month == ids.month { baseline.spent_micros } else { 0 };
        self.spend.entry(ids.month).or_insert(spent);
    }

    fn usage(&self, now_ms: i64, ids: WindowIds) -> Usage {
        let used = Window::ALL.map(|w| self.windows.get(&(w, ids.of(w))).copied().unwrap_or(0));
        Usage {
            now_ms,
            ids,
            used,
            spent_micros: self.spend.get(&ids.month).copied().unwrap_or(0),
            cooldown_ms: self.cooldown.as_ref().map_or(0, |(_, end)| end - now_ms),
            running: u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
        }
    }
}

#[derive(Default)]
pub struct MemoryGate {
    users: Mutex<HashMap<UserId, UserState>>,
}

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl MemoryGate {
    fn with_user<T>(&self, user: UserId, f: impl FnOnce(&mut UserState, Instant, i64, WindowIds) -> T) -> T {
        let mut users = self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (now, now_ms) = (Instant::now(), wall_ms());
        let ids = WindowIds::at(now_ms);
        let state = users.entry(user).or_default();
        state.expire(now, now_ms, ids);
        let out = f(state, now, now_ms, ids);
        if state.is_empty() {
            users.remove(&user);
        }
        out
    }
}

#[async_trait]
impl Gate for MemoryGate {
    async fn acquire(&self, user: UserId, holder: &str, max: u32, lease: Duration) -> Result<bool, GateError> {
        Ok(self.with_user(user, |state, now, _, _| {
            if let Some(slot) = state.slots.iter_mut().find(|(h, _)| h == holder) {
                slot.1 = now + lease;
                return true;
            }
            if state.slots.len() < max as usize {
                state.slots.push((holder.to_string(), now + lease));
                return true;
            }
            false
        }))
    }

    async fn renew(&self, user: UserId, holder: &str, lease: Duration) -> Result<bool, GateError> {
        Ok(self.with_user(user, |state, now, _, _| match state.slots.iter_mut().find(|(h, _)| h == holder) {
            Some(slot) => {
                slot.1 = now + lease;
                true
            }
            None => false,
        }))
    }

    async fn release(&self, user: UserId, holder: &str) -> Result<(), GateError> {
        self.with_user(user, |state, _, _, _| state.slots.retain(|(h, _)| h != holder));
        Ok(())
    }

    async fn admit(
        &self,
        user: UserId,
        holder: &str,
        limits: &Limits,
        baseline: &Baseline,
        lease: Duration,
        ask: Ask,
    ) -> Result<Admission, GateError> {
        Ok(self.with_user(user, |state, now, now_ms, ids| {
            state.seed(ids, baseline);
            let before = state.usage(now_ms, ids);
            let refuse = |verdict| Admission { verdict, usage: before };
            if before.running >= limits.max_running {
                return refuse(Verdict::Busy);
            }
            if before.cooldown_ms > 0 {
                return refuse(Verdict::Cooldown);
            }
            let images = ask.images.max(1);
            if let Some(w) = Window::ALL.into_iter().find(|&w| before.used(w).saturating_add(images) > limits.of(w)) {
                return refuse(Verdict::Window(w));
            }
            let estimate = ask.estimate_micros.max(0);
            if before.spent_micros >= limits.spend_cap_micros
                || (estimate > 0 && before.spent_micros.saturating_add(estimate) > limits.spend_cap_micros)
            {
                return refuse(Verdict::Spend);
            }
            state.slots.push((holder.to_string(), now + lease));
            for w in Window::ALL {
                *state.windows.entry((w, ids.of(w))).or_insert(0) += images;
            }
            if !limits.cooldown.is_zero() {
                state.cooldown = Some((holder.to_string(), now_ms + millis(limits.cooldown)));
            }
            Admission { verdict: Verdict::Admitted, usage: state.usage(now_ms, ids) }
        }))
    }

    async fn refund(&self, user: UserId, holder: &str, ids: WindowIds, images: u32) -> Result<(), GateError> {
        self.with_user(user, |state, _, _, _| {
            for w in Window::ALL {
                if let Some(n) = state.windows.get_mut(&(w, ids.of(w))) {
                    *n = n.saturating_sub(images.max(1));
                }
            }
            if state.cooldown.as_ref().is_some_and(|(h, _)| h == holder) {
                state.cooldown = None;
            }
        });
        Ok(())
    }

    async fn charge(&self, user: UserId, baseline: &Baseline, month: i64, micros: i64) -> Result<(), GateError> {
        self.with_user(user, |state, _, _, ids| {
            if month != ids.month {
                return;
            }
            match state.spend.get_mut(&month) {
                Some(spent) => *spent += micros,
                // Not seen yet: the database's sum already holds this cost.
                None => state.seed(ids, baseline),
            }
        });
        Ok(())
    }

    async fn usage(&self, user: UserId, baseline: &Baseline) -> Result<Usage, GateError> {
        Ok(self.with_user(user, |state, _, now_ms, ids| {
            state.seed(ids, baseline);
            state.usage(now_ms, ids)
        }))
    }
}
