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
    /// How far the buffer is known to hold no blank line, so a long event is scanned once,
    /// not once per chunk.
    scanned: usize,
}

impl SseParser {
    /// Bytes held of an event not finished yet.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        // Events are cut out by offset and the buffer shifted once per chunk: draining it per
        // event would move the rest of a large chunk once for every small event in it.
        let mut start = 0;
        loop {
            // A blank line is at most 4 bytes: one may straddle the end of what was scanned.
            let from = start.max(self.scanned.saturating_sub(3));
            let Some((end, next)) = find_blank_line(&self.buffer, from) else { break };
            if let Some(event) = parse_block(&self.buffer[start..end.max(start)]) {
                events.push(event);
            }
            start = next;
            self.scanned = start;
        }
        self.buffer.drain(..start);
        self.scanned = self.buffer.len();
        events
    }
}

fn parse_block(block: &[u8]) -> Option<SseEvent> {
    let text = String::from_utf8_lossy(block);
    let mut event = None;
    let mut data = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
        }
    }
    (event.is_some() || !data.is_empty()).then(|| SseEvent { event, data: data.join("\n") })
}

/// Where the first event from `from` on ends and the next begins: a line break followed by
/// an empty line, either written with LF or CRLF. One pass over the bytes.
fn find_blank_line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(i) = buf[at..].iter().position(|&b| b == b'\n').map(|i| at + i) {
        let end = if i > 0 && buf[i - 1] == b'\r' { i - 1 } else { i };
        match (buf.get(i + 1), buf.get(i + 2)) {
            (Some(b'\n'), _) => return Some((end, i + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((end, i + 3)),
            _ => at = i + 1,
        }
    }
    None
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

    #[test]
    fn a_blank_line_split_anywhere_across_chunks_ends_the_event() {
        let wire = "data: one\r\n\r\ndata: two\n\ndata: three\r\n\n";
        for cut in 0..=wire.len() {
            for cut2 in cut..=wire.len() {
                let mut p = SseParser::default();
                let mut got = p.push(&wire.as_bytes()[..cut]);
                got.extend(p.push(&wire.as_bytes()[cut..cut2]));
                got.extend(p.push(&wire.as_bytes()[cut2..]));
                let data: Vec<&str> = got.iter().map(|e| e.data.as_str()).collect();
                assert_eq!(data, ["one", "two", "three"], "cut at {cut} and {cut2}");
                assert_eq!(p.pending(), 0);
            }
        }
    }
}
