//! Reading a provider's body within a byte budget (E1): a compatible server, a proxy or a
//! broken engine can answer gigabytes, or never stop; we read at most what the answer can
//! reasonably be and fail the job with a clear error past that, never buffering the rest.

use reqwest::Response;

use super::ProviderError;

const MIB: usize = 1024 * 1024;

/// How much one kind of answer may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// A JSON answer carrying images as base64: four 4096² PNGs fit, with room.
    ImagesJson,
    /// One image's bytes (a download, ComfyUI's `/view`).
    Image,
    /// One server-sent event (a preview or the final image, base64).
    StreamEvent,
    /// A whole event stream (previews and the image).
    Stream,
    /// Progress polls, model lists, queue answers.
    Small,
    /// An error's body: only its message is read.
    Error,
}

impl Budget {
    pub const fn bytes(self) -> usize {
        match self {
            Self::ImagesJson => 192 * MIB,
            Self::Image => 64 * MIB,
            Self::StreamEvent => 96 * MIB,
            Self::Stream => 256 * MIB,
            Self::Small => 16 * MIB,
            Self::Error => 64 * 1024,
        }
    }

    /// The job's error when an answer would pass its budget.
    pub fn exceeded(self) -> ProviderError {
        ProviderError::BadResponse(format!("the provider's answer passed the {} limit", human(self.bytes())))
    }
}

fn human(bytes: usize) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Reads `res` whole if it fits `budget`: a `Content-Length` over it is refused before a
/// byte is read, and a body without one stops being read where it passes. A network error
/// is worded by `network` (each provider words those its own way).
pub async fn read(
    mut res: Response,
    budget: Budget,
    network: impl FnOnce(reqwest::Error) -> ProviderError,
) -> Result<Vec<u8>, ProviderError> {
    let limit = budget.bytes();
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(budget.exceeded());
    }
    // Grown as bytes arrive: a declared length is a promise, not a reason to hold memory.
    let mut body = Vec::with_capacity(res.content_length().map_or(0, |n| n as usize).min(MIB));
    loop {
        let chunk = match res.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(body),
            Err(e) => return Err(network(e)),
        };
        if body.len() + chunk.len() > limit {
            return Err(budget.exceeded());
        }
        body.extend_from_slice(&chunk);
    }
}

/// Reads `res` as far as `budget`, for error bodies: what passes the budget is cut, and a
/// broken connection leaves what arrived.
pub async fn read_prefix(mut res: Response, budget: Budget) -> Vec<u8> {
    let limit = budget.bytes();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    body
}

/// Counts a stream's bytes against its budgets: the whole stream and the event being read.
#[derive(Debug)]
pub struct StreamBudget {
    total: usize,
    pending: usize,
}

impl StreamBudget {
    pub fn new() -> Self {
        Self { total: 0, pending: 0 }
    }

    /// Adds a chunk; `pending` is what the parser holds of an unfinished event after it.
    pub fn take(&mut self, chunk: usize, pending: usize) -> Result<(), ProviderError> {
        self.total += chunk;
        self.pending = pending;
        if self.total > Budget::Stream.bytes() {
            return Err(Budget::Stream.exceeded());
        }
        if self.pending > Budget::StreamEvent.bytes() {
            return Err(Budget::StreamEvent.exceeded());
        }
        Ok(())
    }
}

impl Default for StreamBudget {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_fails_on_its_total_or_on_one_event_too_large() {
        let mut b = StreamBudget::new();
        assert!(b.take(Budget::StreamEvent.bytes(), Budget::StreamEvent.bytes()).is_ok());
        assert!(b.take(1, Budget::StreamEvent.bytes() + 1).is_err());
        let mut b = StreamBudget::new();
        for _ in 0..Budget::Stream.bytes() / MIB {
            assert!(b.take(MIB, 0).is_ok());
        }
        assert_eq!(b.take(1, 0), Err(Budget::Stream.exceeded()));
    }

    #[test]
    fn budgets_say_their_size() {
        assert_eq!(
            Budget::Error.exceeded().to_string(),
            "unreadable provider response: the provider's answer passed the 64 KiB limit"
        );
        assert!(Budget::ImagesJson.exceeded().to_string().contains("192 MiB"));
    }
}
