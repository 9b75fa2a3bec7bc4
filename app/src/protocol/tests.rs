//! A round trip per variant, and the wire shapes other clients rely on.

use super::*;

fn summary() -> ThreadSummary {
    ThreadSummary { id: ThreadId(7), title: "Ideas".into(), last_seq: 2, updated_at: 1_700 }
}

fn message() -> ChatMessage {
    ChatMessage {
        id: MessageId(3),
        thread_id: ThreadId(7),
        seq: 2,
        client_id: Some(ClientId("c-1".into())),
        role: Role::User,
        text: "hello".into(),
        created_at: 1_700,
        job: None,
    }
}

fn round_trip_client(msg: ClientMsg, tag: &str) {
    let json = serde_json::to_string(&msg).expect("serialises");
    let value: serde_json::Value = serde_json::from_str(&json).expect("is json");
    assert_eq!(value["type"], tag, "{json}");
    assert_eq!(ClientMsg::parse(&json), Ok(msg));
}

/// Every variant's tag, by an exhaustive match: a new variant stops this test module from
/// compiling until it is listed here and in `reading.rs` (`TYPES` and `from_json`), and given
/// a round trip.
fn tag_of(msg: &ServerMsg) -> &'static str {
    match msg {
        ServerMsg::Welcome(_) => "welcome",
        ServerMsg::ThreadHistory(_) => "thread_history",
        ServerMsg::ThreadCreated(_) => "thread_created",
        ServerMsg::ThreadRenamed(_) => "thread_renamed",
        ServerMsg::ThreadDeleted(_) => "thread_deleted",
        ServerMsg::MessageAdded(_) => "message_added",
        ServerMsg::JobProgress(_) => "job_progress",
        ServerMsg::JobUpdated(_) => "job_updated",
        ServerMsg::Quota(_) => "quota",
        ServerMsg::AssistantDelta(_) => "assistant_delta",
        ServerMsg::MessageUpdated(_) => "message_updated",
        ServerMsg::Restarting(_) => "restarting",
        ServerMsg::OlderMessages(_) => "older_messages",
        ServerMsg::Choices(_) => "choices",
        ServerMsg::Error(_) => "error",
    }
}

#[test]
fn the_wire_tags_are_distinct() {
    let unique: std::collections::BTreeSet<_> = ServerMsg::TYPES.iter().collect();
    assert_eq!(unique.len(), ServerMsg::TYPES.len());
}

fn round_trip_server(msg: ServerMsg, tag: &str) {
    assert_eq!(tag_of(&msg), tag);
    assert!(ServerMsg::TYPES.contains(&tag), "{tag} missing from ServerMsg::TYPES");
    let json = msg.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).expect("is json");
    assert_eq!(value["type"], tag, "{json}");
    assert_eq!(ServerMsg::from_json(&json).expect("parses"), msg);
    // The server's derived reader (its relay) agrees.
    #[cfg(feature = "ssr")]
    assert_eq!(serde_json::from_str::<ServerMsg>(&json).expect("parses"), msg);
}

#[test]
fn open_thread_round_trips() {
    let m = OpenThread { thread_id: ThreadId(1), after_seq: Some(4) };
    round_trip_client(ClientMsg::OpenThread(m), "open_thread");
}

#[test]
fn create_thread_round_trips() {
    let m = CreateThread { client_id: ClientId("x".into()), title: None };
    round_trip_client(ClientMsg::CreateThread(m), "create_thread");
}

#[test]
fn rename_thread_round_trips() {
    let m = RenameThread { thread_id: ThreadId(1), title: "New".into() };
    round_trip_client(ClientMsg::RenameThread(m), "rename_thread");
}

#[test]
fn delete_thread_round_trips() {
    round_trip_client(ClientMsg::DeleteThread(DeleteThread { thread_id: ThreadId(2) }), "delete_thread");
}

#[test]
fn send_round_trips() {
    let m = SendMessage {
        thread_id: ThreadId(1),
        client_id: ClientId("c".into()),
        text: "hi \"there\"".into(),
        options: ImageOptions::default(),
    };
    round_trip_client(ClientMsg::Send(m), "send");
}

#[test]
fn welcome_round_trips() {
    let m = Welcome {
        user: UserInfo { id: UserId(1), username: "ada".into(), admin: false },
        threads: vec![summary()],
        quota: None,
        choices: None,
    };
    round_trip_server(ServerMsg::Welcome(m), "welcome");
}

#[test]
fn thread_history_round_trips() {
    let m = ThreadHistory { thread: summary(), after_seq: None, messages: vec![message()], has_older: true };
    round_trip_server(ServerMsg::ThreadHistory(m), "thread_history");
}

#[test]
fn thread_created_round_trips() {
    let m = ThreadCreated { thread: summary(), client_id: ClientId("c".into()) };
    round_trip_server(ServerMsg::ThreadCreated(m), "thread_created");
}

#[test]
fn thread_renamed_round_trips() {
    let m = ThreadRenamed { thread_id: ThreadId(7), title: "T".into(), updated_at: 5 };
    round_trip_server(ServerMsg::ThreadRenamed(m), "thread_renamed");
}

#[test]
fn thread_deleted_round_trips() {
    round_trip_server(ServerMsg::ThreadDeleted(ThreadDeleted { thread_id: ThreadId(7) }), "thread_deleted");
}

#[test]
fn message_added_round_trips() {
    round_trip_server(ServerMsg::MessageAdded(MessageAdded { message: message() }), "message_added");
}

#[test]
fn error_round_trips() {
    let m = ProtocolError { code: ErrorCode::NotFound, message: "No such thread.".into(), client_id: None };
    round_trip_server(ServerMsg::Error(m), "error");
}

fn job() -> JobView {
    JobView {
        id: JobId(4),
        status: JobStatus::Complete,
        stage: JobStage::Complete,
        prompt: "a lighthouse".into(),
        enhanced_prompt: "a lighthouse at dusk".into(),
        revised_prompt: Some("a tall lighthouse at dusk".into()),
        subject: "lighthouse".into(),
        provider: ProviderKind::Builtin,
        model: "scene-v1".into(),
        error: None,
        images: vec![ImageInfo { id: ImageId(9), width: 1024, height: 1024, variants: vec![256, 512, 1024] }],
        params: None,
        cost_micros: Some(31_930),
        refines: None,
        started_at: None,
    }
}

#[test]
fn cancel_job_round_trips() {
    round_trip_client(ClientMsg::CancelJob(CancelJob { job_id: JobId(4) }), "cancel_job");
}

#[test]
fn retry_job_round_trips() {
    round_trip_client(ClientMsg::RetryJob(RetryJob { job_id: JobId(4) }), "retry_job");
}

#[test]
fn job_progress_round_trips() {
    let m = JobProgress {
        job_id: JobId(4),
        thread_id: ThreadId(7),
        stage: JobStage::Generating,
        percent: 60,
        detail: "Generating your lighthouse scene…".into(),
        preview: Some(2),
        steps: None,
        queue_position: None,
    };
    round_trip_server(ServerMsg::JobProgress(m.clone()), "job_progress");
    let stepped = JobProgress { steps: Some(StepCount { step: 12, total: 30 }), queue_position: Some(0), ..m };
    round_trip_server(ServerMsg::JobProgress(stepped), "job_progress");
}

#[test]
fn job_updated_round_trips() {
    let m = JobUpdated { thread_id: ThreadId(7), message_id: MessageId(3), job: job() };
    round_trip_server(ServerMsg::JobUpdated(m), "job_updated");
    let with_job = ChatMessage { job: Some(job()), role: Role::Assistant, ..message() };
    round_trip_server(ServerMsg::MessageAdded(MessageAdded { message: with_job }), "message_added");
}

#[test]
fn ids_are_plain_numbers_on_the_wire() {
    let json = serde_json::to_string(&ThreadDeleted { thread_id: ThreadId(42) }).expect("serialises");
    assert_eq!(json, r#"{"thread_id":42}"#);
}

#[test]
fn unknown_type_is_a_readable_error() {
    let err = ClientMsg::parse(r#"{"type":"launch_rockets"}"#).expect_err("unknown tag");
    assert!(err.contains("unknown variant"), "{err}");
    assert!(ClientMsg::parse("not json").is_err());
}

fn quota() -> QuotaView {
    QuotaView {
        tier: Tier::Premium,
        windows: vec![WindowUse { window: Window::Day, used: 3, limit: 100, resets_at: 1_795_651_200_000 }],
        spent_micros: 120_000,
        spend_cap_micros: 50_000_000,
        cooldown_ms: 4_000,
        running: 1,
        max_running: 2,
    }
}

#[test]
fn quota_round_trips() {
    round_trip_server(ServerMsg::Quota(QuotaUpdated { quota: quota() }), "quota");
}

#[test]
fn welcome_with_quota_round_trips_and_an_older_welcome_still_reads() {
    let m = Welcome {
        user: UserInfo { id: UserId(1), username: "ada".into(), admin: false },
        threads: vec![],
        quota: Some(quota()),
        choices: None,
    };
    round_trip_server(ServerMsg::Welcome(m), "welcome");
    let old = r#"{"type":"welcome","user":{"id":1,"username":"ada"},"threads":[]}"#;
    let parsed = ServerMsg::from_json(old);
    assert!(matches!(parsed, Ok(ServerMsg::Welcome(Welcome { quota: None, .. }))), "{parsed:?}");
}

#[test]
fn assistant_delta_and_message_updated_round_trip() {
    let d = AssistantDelta { thread_id: ThreadId(1), message_id: MessageId(2), delta: "Hel\"lo".into() };
    round_trip_server(ServerMsg::AssistantDelta(d), "assistant_delta");
    round_trip_server(ServerMsg::MessageUpdated(MessageUpdated { message: message() }), "message_updated");
}

#[test]
fn restarting_round_trips() {
    round_trip_server(ServerMsg::Restarting(Restarting { grace_secs: 30 }), "restarting");
}

#[test]
fn a_failed_job_carries_its_kind_and_an_older_frame_without_one_still_reads() {
    let mut failed = job();
    failed.status = JobStatus::Failed;
    failed.error = Some(JobError { message: "Timed out.".into(), retryable: true, kind: FailureKind::Timeout });
    let json = serde_json::to_string(&failed).expect("json");
    assert!(json.contains(r#""kind":"timeout""#), "{json}");
    assert!(json.contains(r#""provider":"builtin""#), "{json}");
    let old = json.replace(r#","kind":"timeout""#, "");
    let read: JobView = serde_json::from_str(&old).expect("reads");
    assert_eq!(read.error.map(|e| e.kind), Some(FailureKind::Internal));
}

#[test]
fn vocabularies_read_back_what_they_write() {
    for kind in [FailureKind::ContentPolicy, FailureKind::BadImage, FailureKind::Interrupted, FailureKind::Timeout] {
        assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(FailureKind::parse("exploded"), None);
    for kind in [ProviderKind::Builtin, ProviderKind::OpenAi, ProviderKind::ComfyUi, ProviderKind::Automatic1111] {
        assert_eq!(ProviderKind::parse(kind.id()), Some(kind));
        // Rows written before ids were stored hold the display name.
        assert_eq!(ProviderKind::parse(kind.name()), Some(kind));
    }
    for v in [Variant::Full, Variant::Width(256), Variant::Width(1024)] {
        assert_eq!(Variant::parse(&v.to_string()), Some(v));
    }
    for bad in ["", "+512", " 512", "512px", "FULL", "99999999999"] {
        assert_eq!(Variant::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn older_messages_and_choices_round_trip() {
    let o = OlderMessages { thread_id: ThreadId(7), before_seq: 3, messages: vec![message()], has_older: true };
    round_trip_server(ServerMsg::OlderMessages(o), "older_messages");
    let c =
        ImageChoices { engines: vec![], default_engine: ProviderKind::Builtin, preferences: Preferences::default() };
    round_trip_server(ServerMsg::Choices(c), "choices");
}

#[test]
fn a_frame_is_read_whatever_the_order_of_its_fields_and_an_unknown_type_is_an_error() {
    let late = r#"{"grace_secs":30,"type":"restarting"}"#;
    assert_eq!(ServerMsg::from_json(late).ok(), Some(ServerMsg::Restarting(Restarting { grace_secs: 30 })));
    for bad in [r#"{"type":"teleport"}"#, r#"{"grace_secs":30}"#, r#"{"type":"restarting"}"#, "[]", ""] {
        assert!(ServerMsg::from_json(bad).is_err(), "{bad}");
    }
}
