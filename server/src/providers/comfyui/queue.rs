//! How a ComfyUI server's queue stands (`GET /queue`): what runs, what waits, and how many
//! prompts are ahead of ours.

use serde_json::Value;

/// ComfyUI's answer to `GET /queue`: `{queue_running: [item], queue_pending: [item]}`, each
/// item `[number, prompt_id, prompt, extra_data, outputs_to_execute]`. The pending list is
/// the engine's heap, not sorted: order comes from `number`.
#[derive(Debug, Clone)]
pub struct Queue(Value);

impl Queue {
    pub fn new(answer: Value) -> Self {
        Self(answer)
    }

    fn items(&self, list: &str) -> &[Value] {
        self.0.get(list).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    }

    fn holds(&self, list: &str, id: &str) -> bool {
        self.items(list).iter().any(|item| item.get(1).and_then(Value::as_str) == Some(id))
    }

    pub fn running(&self, id: &str) -> bool {
        self.holds("queue_running", id)
    }

    pub fn pending(&self, id: &str) -> bool {
        self.holds("queue_pending", id)
    }

    /// How many prompts run or wait ahead of this pending one; `None` if it is not waiting.
    pub fn ahead_of(&self, id: &str) -> Option<u32> {
        let number = |item: &Value| item.get(0).and_then(Value::as_f64);
        let pending = self.items("queue_pending");
        let ours = pending.iter().find(|item| item.get(1).and_then(Value::as_str) == Some(id)).and_then(number)?;
        let before = pending.iter().filter(|item| number(item).is_some_and(|n| n < ours)).count();
        u32::try_from(self.items("queue_running").len() + before).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_queue_says_what_runs_and_how_many_wait_ahead() {
        let item = |n: u64, id: &str| json!([n, id, {}, {"client_id": "c"}, ["9"]]);
        // The pending list is a heap: not in number order.
        let queue = Queue(json!({
            "queue_running": [item(1, "a")],
            "queue_pending": [item(2, "b"), item(4, "d"), item(3, "c")]
        }));
        assert!(queue.running("a") && !queue.running("b"));
        assert!(queue.pending("d") && !queue.pending("a"));
        assert_eq!(queue.ahead_of("b"), Some(1));
        assert_eq!(queue.ahead_of("d"), Some(3));
        assert_eq!(queue.ahead_of("c"), Some(2));
        assert_eq!(queue.ahead_of("a"), None, "running, not waiting");
        assert_eq!(queue.ahead_of("x"), None);
        assert!(!Queue(json!({})).running("a"));
    }
}
