use super::*;

fn summary(id: i64, last_seq: Seq, updated_at: i64) -> ThreadSummary {
    ThreadSummary { id: ThreadId(id), title: format!("Thread {id}"), last_seq, updated_at }
}

fn msg(thread: i64, seq: Seq, client: Option<&str>) -> ChatMessage {
    ChatMessage {
        id: MessageId(thread * 1000 + seq),
        thread_id: ThreadId(thread),
        seq,
        client_id: client.map(|c| ClientId(c.into())),
        role: Role::User,
        text: format!("message {seq}"),
        created_at: 100 + seq,
        job: None,
    }
}

fn welcome(threads: Vec<ThreadSummary>) -> ServerMsg {
    ServerMsg::Welcome(Welcome {
        user: UserInfo { id: UserId(1), username: "ada".into(), admin: false },
        threads,
        quota: None,
        choices: None,
    })
}

fn history(thread: ThreadSummary, after_seq: Option<Seq>, messages: Vec<ChatMessage>) -> ServerMsg {
    ServerMsg::ThreadHistory(ThreadHistory { thread, after_seq, messages, has_older: false })
}

fn added(m: ChatMessage) -> ServerMsg {
    ServerMsg::MessageAdded(MessageAdded { message: m })
}

fn seqs(state: &ChatState, thread: i64) -> Vec<Seq> {
    state.logs[&ThreadId(thread)].messages.iter().map(|m| m.seq).collect()
}

fn opened(thread: ThreadSummary, messages: Vec<ChatMessage>) -> ChatState {
    let mut s = ChatState::default();
    s.apply(welcome(vec![thread.clone()]));
    assert_eq!(s.apply(history(thread, None, messages)), None);
    s
}

#[test]
fn events_in_order_are_appended() {
    let mut s = opened(summary(1, 1, 0), vec![msg(1, 1, None)]);
    assert_eq!(s.apply(added(msg(1, 2, None))), None);
    assert_eq!(s.apply(added(msg(1, 3, None))), None);
    assert_eq!(seqs(&s, 1), vec![1, 2, 3]);
    assert_eq!(s.summary(ThreadId(1)).map(|t| t.last_seq), Some(3));
}

#[test]
fn duplicate_events_are_ignored() {
    let mut s = opened(summary(1, 2, 0), vec![msg(1, 1, None), msg(1, 2, None)]);
    assert_eq!(s.apply(added(msg(1, 2, None))), None);
    assert_eq!(s.apply(added(msg(1, 1, None))), None);
    assert_eq!(seqs(&s, 1), vec![1, 2]);
}

#[test]
fn a_gap_asks_for_a_resync_and_the_replay_fills_it() {
    let mut s = opened(summary(1, 1, 0), vec![msg(1, 1, None)]);
    assert_eq!(s.apply(added(msg(1, 3, None))), Some(Followup::Resync { thread_id: ThreadId(1), after_seq: 1 }));
    assert_eq!(seqs(&s, 1), vec![1], "no hole is shown");
    let replay = history(summary(1, 3, 0), Some(1), vec![msg(1, 2, None), msg(1, 3, None)]);
    assert_eq!(s.apply(replay), None);
    assert_eq!(seqs(&s, 1), vec![1, 2, 3]);
}

#[test]
fn history_older_than_what_was_announced_asks_again() {
    let mut s = ChatState::default();
    s.apply(welcome(vec![summary(1, 0, 0)]));
    // A message announced before the history arrives, and missing from that history.
    s.apply(added(msg(1, 1, None)));
    let stale = history(summary(1, 0, 0), None, vec![]);
    assert_eq!(s.apply(stale), Some(Followup::Resync { thread_id: ThreadId(1), after_seq: 0 }));
}

#[test]
fn snapshot_replaces_state() {
    let mut s = opened(summary(1, 1, 0), vec![msg(1, 1, None)]);
    s.apply(welcome(vec![summary(2, 0, 5)]));
    let ids: Vec<ThreadId> = s.threads.clone().unwrap_or_default().iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![ThreadId(2)]);
    assert!(!s.logs.contains_key(&ThreadId(1)), "logs of vanished threads are dropped");
    assert_eq!(s.connection, Connection::Online);
}

#[test]
fn snapshot_keeps_logs_of_threads_that_still_exist() {
    let mut s = opened(summary(1, 1, 0), vec![msg(1, 1, None)]);
    s.apply(welcome(vec![summary(1, 1, 0)]));
    assert_eq!(seqs(&s, 1), vec![1]);
    assert_eq!(
        s.resume(Some(ThreadId(1))),
        vec![ClientMsg::OpenThread(OpenThread { thread_id: ThreadId(1), after_seq: Some(1) })]
    );
}

#[test]
fn the_echo_of_a_sent_message_settles_the_outbox() {
    let mut s = opened(summary(1, 0, 0), vec![]);
    s.queue_send(ThreadId(1), ClientId("c1".into()), "message 1".into(), ImageOptions::default());
    assert_eq!(s.pending_in(ThreadId(1)).len(), 1);
    s.apply(added(msg(1, 1, Some("c1"))));
    assert!(s.outbox.is_empty());
    assert_eq!(seqs(&s, 1), vec![1]);
}

#[test]
fn unacknowledged_messages_are_resent_after_reconnect() {
    let mut s = opened(summary(1, 0, 0), vec![]);
    let frame = s.queue_send(
        ThreadId(1),
        ClientId("c1".into()),
        "hello".into(),
        ImageOptions { count: 3, aspect: Some(AspectRatio::Wide), ..Default::default() },
    );
    s.connection = Connection::Reconnecting;
    let resume = s.resume(Some(ThreadId(1)));
    assert_eq!(resume.len(), 2);
    assert_eq!(resume[1], frame);
}

#[test]
fn a_refused_message_keeps_its_text_and_is_not_resent() {
    let mut s = opened(summary(1, 0, 0), vec![]);
    s.queue_send(ThreadId(1), ClientId("c1".into()), "x".into(), ImageOptions::default());
    s.apply(ServerMsg::Error(ProtocolError {
        code: ErrorCode::Invalid,
        message: "Too long.".into(),
        client_id: Some(ClientId("c1".into())),
    }));
    assert_eq!(s.outbox[0].error.as_deref(), Some("Too long."));
    assert_eq!(s.outbox[0].text, "x");
    assert!(s.resume(None).is_empty());
}

#[test]
fn created_thread_navigates_only_the_tab_that_asked() {
    let mut s = ChatState::default();
    s.apply(welcome(vec![]));
    s.awaiting_create = Some(ClientId("mine".into()));
    let other =
        ServerMsg::ThreadCreated(ThreadCreated { thread: summary(5, 0, 9), client_id: ClientId("theirs".into()) });
    assert_eq!(s.apply(other), None);
    let mine =
        ServerMsg::ThreadCreated(ThreadCreated { thread: summary(6, 0, 10), client_id: ClientId("mine".into()) });
    assert_eq!(s.apply(mine.clone()), Some(Followup::Navigate(ThreadId(6))));
    assert_eq!(s.apply(mine), None, "a replay does not navigate twice");
    let ids: Vec<i64> = s.threads.unwrap_or_default().iter().map(|t| t.id.0).collect();
    assert_eq!(ids, vec![6, 5], "newest first, no duplicates");
}

#[test]
fn rename_and_delete_apply_to_the_list() {
    let mut s = opened(summary(1, 1, 0), vec![msg(1, 1, None)]);
    s.queue_send(ThreadId(1), ClientId("c".into()), "bye".into(), ImageOptions::default());
    s.apply(ServerMsg::ThreadRenamed(ThreadRenamed {
        thread_id: ThreadId(1),
        title: "Renamed".into(),
        updated_at: 50,
    }));
    assert_eq!(s.summary(ThreadId(1)).map(|t| t.title.as_str()), Some("Renamed"));
    let gone = s.apply(ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: ThreadId(1) }));
    assert_eq!(gone, Some(Followup::ThreadGone(ThreadId(1))));
    assert!(s.summary(ThreadId(1)).is_none());
    assert!(s.logs.is_empty() && s.outbox.is_empty());
    assert!(s.deleted.contains(&ThreadId(1)));
}

#[test]
fn activity_moves_a_thread_to_the_top() {
    let mut s = ChatState::default();
    s.apply(welcome(vec![summary(2, 0, 20), summary(1, 0, 10)]));
    s.apply(added(ChatMessage { created_at: 30, ..msg(1, 1, None) }));
    let ids: Vec<i64> = s.threads.unwrap_or_default().iter().map(|t| t.id.0).collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn backoff_doubles_and_is_capped() {
    assert_eq!(backoff_ms(0), 500);
    assert_eq!(backoff_ms(1), 1_000);
    assert_eq!(backoff_ms(4), 8_000);
    assert_eq!(backoff_ms(5), 10_000);
    assert_eq!(backoff_ms(40), 10_000);
}

fn job(id: i64, status: JobStatus, stage: JobStage) -> JobView {
    JobView {
        id: JobId(id),
        status,
        stage,
        prompt: "a fox".into(),
        enhanced_prompt: "a fox".into(),
        revised_prompt: None,
        subject: "fox".into(),
        provider: ProviderKind::Builtin,
        model: "scene-v1".into(),
        error: None,
        images: vec![],
        params: None,
        cost_micros: None,
        refines: None,
        started_at: Some(1_000),
    }
}

fn progress(id: i64, stage: JobStage) -> ServerMsg {
    ServerMsg::JobProgress(JobProgress {
        job_id: JobId(id),
        thread_id: ThreadId(1),
        stage,
        percent: stage.percent(),
        detail: stage.describe("fox"),
        preview: None,
        steps: None,
        queue_position: None,
    })
}

#[test]
fn job_progress_moves_forward_only_and_an_update_settles_the_message() {
    let assistant = ChatMessage {
        role: Role::Assistant,
        job: Some(job(5, JobStatus::Running, JobStage::Queued)),
        ..msg(1, 1, None)
    };
    let mut s = opened(summary(1, 1, 0), vec![assistant]);
    s.apply(progress(5, JobStage::Generating));
    s.apply(progress(5, JobStage::Initializing)); // late, out of order
    assert_eq!(s.progress[&JobId(5)].stage, JobStage::Generating);
    // A preview stays on screen through the steps that follow it, until a newer one.
    let with_preview = |n| match progress(5, JobStage::Generating) {
        ServerMsg::JobProgress(p) => ServerMsg::JobProgress(JobProgress { preview: Some(n), ..p }),
        other => other,
    };
    s.apply(with_preview(2));
    s.apply(progress(5, JobStage::Generating));
    assert_eq!(s.progress[&JobId(5)].preview, Some(2));
    s.apply(with_preview(3));
    assert_eq!(s.progress[&JobId(5)].preview, Some(3));

    let done = job(5, JobStatus::Complete, JobStage::Complete);
    s.apply(ServerMsg::JobUpdated(JobUpdated {
        thread_id: ThreadId(1),
        message_id: MessageId(1001),
        job: done.clone(),
    }));
    assert!(s.progress.is_empty());
    assert_eq!(s.logs[&ThreadId(1)].messages[0].job, Some(done));
}

/// The server rewrites a job's message as the job moves on; a tab that saw the end live must
/// hold the text a tab that reloads reads, whatever stage its snapshot caught.
#[test]
fn a_job_s_last_update_sets_the_text_its_message_is_stored_with() {
    let mid_job = ChatMessage {
        role: Role::Assistant,
        text: JobStage::Processing.describe("fox"),
        job: Some(job(5, JobStatus::Running, JobStage::Processing)),
        ..msg(1, 1, None)
    };
    let mut s = opened(summary(1, 1, 0), vec![mid_job]);
    let update = |job| ServerMsg::JobUpdated(JobUpdated { thread_id: ThreadId(1), message_id: MessageId(1001), job });
    s.apply(update(job(5, JobStatus::Complete, JobStage::Complete)));
    assert_eq!(s.logs[&ThreadId(1)].messages[0].text, "Here is your fox scene.");

    let failed = JobView {
        error: Some(JobError {
            kind: FailureKind::ServerError,
            message: "The image service is busy.".into(),
            retryable: true,
        }),
        ..job(5, JobStatus::Failed, JobStage::Generating)
    };
    s.apply(update(failed));
    assert_eq!(s.logs[&ThreadId(1)].messages[0].text, "The image service is busy.");
    s.apply(update(job(5, JobStatus::Running, JobStage::Queued)));
    assert_eq!(s.logs[&ThreadId(1)].messages[0].text, "Queued: your fox scene is next…", "a retry starts over");
}

#[test]
fn the_quota_comes_with_the_snapshot_and_follows_each_update() {
    let quota = |used: u32| QuotaView {
        tier: Tier::Free,
        windows: vec![WindowUse { window: Window::Day, used, limit: 10, resets_at: 0 }],
        spent_micros: 0,
        spend_cap_micros: 5_000_000,
        cooldown_ms: 0,
        running: 0,
        max_running: 1,
    };
    let mut s = ChatState::default();
    let hello = Welcome {
        user: UserInfo { id: UserId(1), username: "ada".into(), admin: false },
        threads: vec![],
        quota: Some(quota(2)),
        choices: None,
    };
    s.apply(ServerMsg::Welcome(hello.clone()));
    assert_eq!(s.quota.as_ref().map(QuotaView::summary).as_deref(), Some("8 of 10 daily generations left"));
    s.apply(ServerMsg::Quota(QuotaUpdated { quota: quota(3) }));
    assert_eq!(s.quota.as_ref().map(|q| q.windows[0].used), Some(3));
    // A snapshot without a quota (the gate is unreachable) clears a stale one.
    s.apply(ServerMsg::Welcome(Welcome { quota: None, ..hello }));
    assert_eq!(s.quota, None);
}

#[test]
fn a_streamed_reply_grows_then_is_replaced_whole() {
    let reply = ChatMessage { role: Role::Assistant, text: String::new(), ..msg(1, 1, None) };
    let mut s = opened(summary(1, 1, 0), vec![reply.clone()]);
    for piece in ["Hel", "lo"] {
        s.apply(ServerMsg::AssistantDelta(AssistantDelta {
            thread_id: ThreadId(1),
            message_id: reply.id,
            delta: piece.into(),
        }));
    }
    assert_eq!(s.logs[&ThreadId(1)].messages[0].text, "Hello");
    let done = ChatMessage { text: "Hello there.".into(), ..reply };
    s.apply(ServerMsg::MessageUpdated(MessageUpdated { message: done.clone() }));
    assert_eq!(s.logs[&ThreadId(1)].messages[0], done);
    // A delta for a message this tab has not loaded is ignored.
    s.apply(ServerMsg::AssistantDelta(AssistantDelta {
        thread_id: ThreadId(9),
        message_id: MessageId(9),
        delta: "x".into(),
    }));
}

#[test]
fn a_restart_notice_shows_until_the_next_welcome() {
    let mut s = ChatState::default();
    s.apply(welcome(vec![]));
    assert_eq!(s.connection, Connection::Online);
    s.apply(ServerMsg::Restarting(Restarting { grace_secs: 30 }));
    assert_eq!(s.connection, Connection::Restarting);
    s.apply(welcome(vec![]));
    assert_eq!(s.connection, Connection::Online);
}

#[test]
fn an_earlier_page_goes_in_front_and_says_whether_there_is_more() {
    let mut s = ChatState::default();
    let thread = summary(1, 250, 0);
    s.apply(welcome(vec![thread.clone()]));
    let newest: Vec<ChatMessage> = (151..=250).map(|q| msg(1, q, None)).collect();
    s.apply(ServerMsg::ThreadHistory(ThreadHistory { thread, after_seq: None, messages: newest, has_older: true }));
    assert!(s.logs[&ThreadId(1)].has_older);
    assert_eq!(s.logs[&ThreadId(1)].first_seq(), Some(151));
    let older = |range: std::ops::RangeInclusive<Seq>, has_older| {
        ServerMsg::OlderMessages(OlderMessages {
            thread_id: ThreadId(1),
            before_seq: range.end() + 1,
            messages: range.map(|q| msg(1, q, None)).collect(),
            has_older,
        })
    };
    // A page for another start (the log was replaced meanwhile) is ignored: no hole.
    assert_eq!(s.apply(older(41..=140, true)), None);
    assert_eq!(s.logs[&ThreadId(1)].first_seq(), Some(151));
    assert_eq!(s.apply(older(51..=150, true)), None);
    assert_eq!(s.logs[&ThreadId(1)].first_seq(), Some(51));
    assert_eq!(s.logs[&ThreadId(1)].messages.len(), 200);
    assert_eq!(s.apply(older(1..=50, false)), None);
    assert_eq!(seqs(&s, 1), (1..=250).collect::<Vec<_>>());
    assert!(!s.logs[&ThreadId(1)].has_older);
    // New messages still append after the pages.
    assert_eq!(s.apply(added(msg(1, 251, None))), None);
    assert_eq!(s.logs[&ThreadId(1)].last_seq(), 251);
}
