//! Property tests of what takes outside input (issue 12's fuzzing): the socket's frame
//! decoder, the assistant's `plan` on any Unicode, the SSE parser, the provider answers,
//! and image decoding. Each runs 256 cases in `scripts/test`; `PROPTEST_CASES=100000`
//! makes the longer run documented in docs/security.md.

use app::protocol::{ClientMsg, Role};
use proptest::prelude::*;
use server::assistant::{plan, Turn};
use server::providers::sse::{SseEvent, SseParser};

/// Text from every corner of Unicode: letters that change length when lower-cased (the
/// Kelvin sign, `İ`), combining marks, right-to-left, emoji, controls, and our own words.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<String>(),
        Just("\u{212A}\u{212A}".to_string()),
        Just("İstanbul".to_string()),
        Just("e\u{301}\u{301}".to_string()),
        Just("مرحبا".to_string()),
        Just("👩‍👩‍👧‍👦".to_string()),
        Just("/imagine ".to_string()),
        Just("make it ".to_string()),
        Just("at dawn".to_string()),
        Just("--raw".to_string()),
        Just("[image: ".to_string()),
        Just("]".to_string()),
        Just("\u{0}\r\n\t".to_string()),
    ];
    prop::collection::vec(pieces, 0..8).prop_map(|p| p.concat())
}

fn turns() -> impl Strategy<Value = Vec<Turn>> {
    prop::collection::vec(
        (any::<bool>(), text())
            .prop_map(|(user, text)| Turn { role: if user { Role::User } else { Role::Assistant }, text }),
        0..6,
    )
}

proptest! {
    #[test]
    fn plan_never_panics_and_keeps_the_users_words(history in turns(), message in text()) {
        let decided = plan(&history, &message);
        // Whatever it decides, a prompt sent on is text, and never longer than a bound
        // relative to what it was given (no runaway growth from rewriting).
        prop_assert!(decided.prompt.len() <= 4 * (message.len() + history.iter().map(|t| t.text.len()).sum::<usize>()) + 256);
    }

    #[test]
    fn a_refinement_of_any_image_never_panics(subject in text(), change in text()) {
        let history = vec![
            Turn { role: Role::User, text: format!("/imagine {subject}") },
            Turn { role: Role::Assistant, text: format!("[image: {subject}]") },
        ];
        let _ = plan(&history, &format!("make it {change}"));
        let _ = plan(&history, &change);
    }

    #[test]
    fn any_frame_is_parsed_or_refused_in_words(frame in any::<String>()) {
        if let Err(e) = ClientMsg::parse(&frame) {
            prop_assert!(e.starts_with("unreadable frame"));
        }
    }

    #[test]
    fn frames_shaped_like_ours_with_any_values_never_panic(
        kind in prop_oneof![Just("send"), Just("open_thread"), Just("create_thread"), Just("rename_thread"), Just("cancel_job"), Just("retry_job"), Just("delete_thread")],
        text in text(),
        number in any::<i64>(),
        float in any::<f64>(),
    ) {
        for frame in [
            format!(r#"{{"type":"{kind}","thread_id":{number},"client_id":{text:?},"text":{text:?}}}"#),
            format!(r#"{{"type":"{kind}","job_id":{float},"title":{text:?}}}"#),
            format!(r#"{{"type":"{kind}","thread_id":"{number}","text":null}}"#),
        ] {
            let _ = ClientMsg::parse(&frame);
        }
    }

    /// However a stream is cut into chunks, the same events come out.
    #[test]
    fn sse_events_do_not_depend_on_where_chunks_end(
        events in prop::collection::vec((prop::option::of("[a-z_.]{1,20}"), "[^\r\n]{0,60}"), 0..8),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut wire = String::new();
        for (event, data) in &events {
            if let Some(e) = event {
                wire.push_str(&format!("event: {e}{nl}"));
            }
            wire.push_str(&format!("data: {data}{nl}{nl}"));
        }
        let bytes = wire.as_bytes();
        let mut whole = SseParser::default();
        let expected = whole.push(bytes);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = SseParser::default();
        let mut got: Vec<SseEvent> = Vec::new();
        let mut from = 0;
        for p in points.into_iter().chain(std::iter::once(bytes.len())) {
            got.extend(pieces.push(&bytes[from..p]));
            from = p;
        }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(expected.len(), events.len());
        prop_assert_eq!(pieces.pending(), 0);
    }

    #[test]
    fn sse_garbage_never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..10)) {
        let mut p = SseParser::default();
        for c in &chunks {
            let _ = p.push(c);
        }
    }
}
