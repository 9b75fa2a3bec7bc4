//! A long thread is read a page at a time (D2): opening it sends the newest page, and each
//! earlier page is fetched on request, so one small frame cannot make the server read and
//! send thousands of messages.

use app::protocol::*;
use server::store::NewMessage;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_thread_opens_on_its_newest_page_and_earlier_pages_come_on_request() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let user = app.user_id("ada").await;
    let total = 2 * HISTORY_PAGE as i64 + 30;
    for i in 1..=total {
        let new = NewMessage { user, thread: thread.id, client_id: None, role: Role::User, text: &format!("m{i}") };
        app.store.add_message(new).await.expect("db");
    }

    tab.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: None })).await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::ThreadHistory(_))).await;
    let Some(ServerMsg::ThreadHistory(h)) = frames.last() else { panic!("history") };
    let seqs: Vec<Seq> = h.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, ((total - HISTORY_PAGE as i64 + 1)..=total).collect::<Vec<_>>(), "the newest page, oldest first");
    assert!(h.has_older);

    let mut before = seqs[0];
    let mut pages = vec![seqs.len()];
    loop {
        tab.send(ClientMsg::LoadOlder(LoadOlder { thread_id: thread.id, before_seq: before })).await;
        let frames = tab.read_until(|m| matches!(m, ServerMsg::OlderMessages(_))).await;
        let Some(ServerMsg::OlderMessages(o)) = frames.last() else { panic!("older") };
        assert!(o.messages.windows(2).all(|w| w[0].seq + 1 == w[1].seq), "contiguous, oldest first");
        assert_eq!(o.messages.last().map(|m| m.seq), Some(before - 1), "right before what the tab has");
        pages.push(o.messages.len());
        before = o.messages[0].seq;
        if !o.has_older {
            break;
        }
    }
    assert_eq!(pages, [HISTORY_PAGE, HISTORY_PAGE, 30]);
    assert_eq!(before, 1);

    // A tab that missed more than a page gets the newest page in place of the gap.
    tab.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: Some(3) })).await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::ThreadHistory(_))).await;
    let Some(ServerMsg::ThreadHistory(h)) = frames.last() else { panic!("history") };
    assert_eq!((h.after_seq, h.messages.len(), h.has_older), (None, HISTORY_PAGE, true));
    // A tab a few behind gets just those.
    tab.send(ClientMsg::OpenThread(OpenThread { thread_id: thread.id, after_seq: Some(total - 2) })).await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::ThreadHistory(_))).await;
    let Some(ServerMsg::ThreadHistory(h)) = frames.last() else { panic!("history") };
    assert_eq!((h.after_seq, h.messages.len()), (Some(total - 2), 2));

    // Another user's thread is not found, page or not.
    let bob = app.signup("bob").await;
    let mut other = app.connect(&bob).await;
    other.send(ClientMsg::LoadOlder(LoadOlder { thread_id: thread.id, before_seq: 50 })).await;
    let frames = other.read_until(|m| matches!(m, ServerMsg::Error(_))).await;
    assert!(matches!(frames.last(), Some(ServerMsg::Error(e)) if e.code == ErrorCode::NotFound));
}
