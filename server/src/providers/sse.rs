//! Server-sent events, as the OpenAI-compatible APIs stream them (image previews, chat
//! tokens): split a byte stream into events, across chunk boundaries.

/// One server-sent event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Splits a byte stream into server-sent events, across chunk boundaries.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = find_blank_line(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end.0).collect();
            self.buffer.drain(..end.1 - end.0);
            let text = String::from_utf8_lossy(&block);
            let mut event = None;
            let mut data = Vec::new();
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            if event.is_some() || !data.is_empty() {
                events.push(SseEvent { event, data: data.join("\n") });
            }
        }
        events
    }
}

/// (start, end) of the first blank line (`\n\n` or `\r\n\r\n`).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut p = SseParser::default();
        assert!(p.push(b"event: image_generation.partial_image\ndata: {\"a\"").is_empty());
        let events = p.push(b":1}\n\nevent: x\r\ndata: 2\r\n\r\n");
        assert_eq!(
            events,
            vec![
                SseEvent { event: Some("image_generation.partial_image".into()), data: "{\"a\":1}".into() },
                SseEvent { event: Some("x".into()), data: "2".into() },
            ]
        );
    }
}
