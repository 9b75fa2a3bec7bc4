//! With a chat model configured (a loopback server speaking chat completions, streaming
//! SSE): ordinary messages are answered in text that grows in every tab as it streams; what
//! the rules are not certain of is decided by the model's tool calls, which start jobs
//! through the same gate; a model that fails or stalls leaves the local classifier to decide;
//! every call is metered against the user's token allowance.

use std::time::Duration;

use app::protocol::*;
use server::chat_model::ChatModelSettings;
use server::config::Settings;

use crate::fake_chat::{self, COMPLETION_TOKENS, PROMPT_TOKENS};
use crate::helpers::{finished_job, spawn_app_with, test_db, TestApp};

async fn app_with_model(base: String, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(test_db().await, move |s| {
        let mut chat = ChatModelSettings::new(base, "sk-test", "fake-chat");
        chat.first_token_timeout = Duration::from_secs(2);
        chat.timeout = Duration::from_secs(10);
        s.chat_model = Some(chat);
        adjust(s);
    })
    .await
}

/// Ada's two tabs and a thread both know of.
async fn two_tabs(app: &TestApp) -> (crate::helpers::Client, crate::helpers::Client, ThreadSummary) {
    let cookie = app.signup("ada").await;
    let mut tab1 = app.connect(&cookie).await;
    let mut tab2 = app.connect(&cookie).await;
    let thread = tab1.create_thread("t").await;
    tab2.recv().await;
    (tab1, tab2, thread)
}

fn deltas(frames: &[ServerMsg]) -> Vec<&str> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::AssistantDelta(d) => Some(d.delta.as_str()),
            _ => None,
        })
        .collect()
}

fn said(frames: &[ServerMsg]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant && a.message.job.is_none() => {
                Some(a.message.text.clone())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_replies_stream_to_every_tab_and_are_stored_whole() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |_| {}).await;
    let (mut tab1, mut tab2, thread) = two_tabs(&app).await;
    tab1.say(thread.id, "m-1", "what is the capital of France?").await;

    for tab in [&mut tab1, &mut tab2] {
        let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
        assert_eq!(deltas(&frames), ["Paris", " is", " the", " capital", "."], "token by token");
        let Some(ServerMsg::MessageUpdated(u)) = frames.last() else { panic!("update") };
        assert_eq!((u.message.role, u.message.text.as_str()), (Role::Assistant, "Paris is the capital."));
    }
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0]["stream"].as_bool(), sent[0]["model"].as_str()), (Some(true), Some("fake-chat")));
    assert_eq!(sent[0]["stream_options"]["include_usage"], true, "asks for the token count");
    let messages = sent[0]["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.first().map(|m| m["role"].clone()), Some("system".into()));
    assert_eq!(messages.last().map(|m| m["content"].clone()), Some("what is the capital of France?".into()));

    // A request the rules are certain of goes straight to the image provider.
    tab1.say(thread.id, "m-2", "draw me a red fox in the snow").await;
    tab1.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(fake.sent().len(), 1, "the model was not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_starts_a_job_in_every_tab_and_an_edit_refines_the_last_image() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |_| {}).await;
    let (mut tab1, mut tab2, thread) = two_tabs(&app).await;
    // Neither the rules nor the classifier are sure of this one: the model decides.
    let words = "I keep wondering what a shark in a bathtub would look like";
    tab1.say(thread.id, "m-1", words).await;
    let mut first = None;
    for tab in [&mut tab1, &mut tab2] {
        let frames = tab.read_until(|m| finished_job(m).is_some()).await;
        let job = frames.last().and_then(finished_job).expect("a job");
        assert_eq!(job.status, JobStatus::Complete);
        assert_eq!(job.prompt, words, "the user's words stay the original prompt");
        assert_eq!(job.enhanced_prompt, "a shark in a bathtub, wide composition", "the model's prompt and shape");
        assert!(deltas(&frames).is_empty() && said(&frames).is_empty(), "a tool call writes no text");
        first = Some(job.id);
    }
    let sent = fake.sent();
    let tools: Vec<&str> =
        sent[0]["tools"].as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert_eq!(tools, ["generate_image", "edit_last_image"]);

    tab1.say(thread.id, "m-2", "hmm, maybe make it darker").await;
    let frames = tab1.read_until(|m| finished_job(m).is_some()).await;
    let job = frames.last().and_then(finished_job).expect("a refinement");
    assert_eq!(job.refines, first, "linked to the image it changes");
    assert_eq!(job.enhanced_prompt, "a shark in a bathtub, wide composition, darker", "the model's revised prompt");
    let history = fake.sent()[1]["messages"].as_array().cloned().unwrap_or_default();
    assert!(
        history.iter().any(|m| m["content"] == "[image: a shark in a bathtub, wide composition]"),
        "the model sees the thread's image: {history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_leaves_the_decision_to_the_classifier() {
    let (base, fake) = fake_chat::start(true).await;
    let app = app_with_model(base, |_| {}).await;
    let (mut tab, thread) = app.new_user_says("ada", "cna u drwa a lighthouse in a storm plz").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let job = frames.last().and_then(finished_job).expect("the classifier's job");
    assert_eq!(job.status, JobStatus::Complete);
    assert!(job.enhanced_prompt.contains("lighthouse"), "{}", job.enhanced_prompt);
    assert_eq!(fake.sent().len(), 1, "the model was asked first");

    // A message asking for no image gets a plain sentence, not an empty message.
    tab.say(thread.id, "m-2", "tell me a joke").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    assert_eq!(said(&frames), ["I couldn't answer just now. Please try again in a moment."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_stalls_is_given_up_on_and_the_classifier_decides() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |_| {}).await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let started = std::time::Instant::now();
    // The first-word deadline (2 s) gives up, long before the whole reply's (10 s).
    tab.say(thread.id, "m-1", "hang on, cna u drwa a lighthouse in a storm plz").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(frames.last().and_then(finished_job).map(|j| j.status), Some(JobStatus::Complete));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(6), "{waited:?}");
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_keeps_its_text_and_says_so() {
    let (base, _) = fake_chat::start(false).await;
    let app = app_with_model(base, |_| {}).await;
    let (mut tab, _) = app.new_user_says("ada", "tell me about the cut of a diamond").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
    let Some(ServerMsg::MessageUpdated(u)) = frames.last() else { panic!("update") };
    assert_eq!(u.message.text, "The answer begins\n\n(The answer was cut off. Please try again.)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_that_was_not_offered_starts_nothing() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |_| {}).await;
    // A clear negative: the model answers without tools, but this server calls one anyway.
    let (mut tab, thread) = app.new_user_says("ada", "how do I draw a shark?").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    assert_eq!(said(&frames), ["I couldn't answer just now. Please try again in a moment."]);
    assert!(fake.sent()[0].get("tools").is_none(), "no tools offered");
    let user = app.user_id("ada").await;
    let history = app.store.history(user, thread.id, None).await.expect("db").expect("thread");
    assert!(history.messages.iter().all(|m| m.job.is_none()), "no job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_tokens_count_against_the_users_allowance_and_cost() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |s| {
        // Both windows, so the test holds across the top of an hour.
        s.quotas.policies.free.tokens_hour = PROMPT_TOKENS + COMPLETION_TOKENS;
        s.quotas.policies.free.tokens_day = PROMPT_TOKENS + COMPLETION_TOKENS;
        if let Some(chat) = s.chat_model.as_mut() {
            chat.rates = server::chat_model::TokenRates::parse("input=1,output=2").expect("prices");
        }
    })
    .await;
    let (mut tab, thread) = app.new_user_says("ada", "what is the capital of France?").await;
    tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
    let user = app.user_id("ada").await;
    let now = crate::helpers::now_ms();
    // Metered once the answer is given: the reservation is settled to what the server reported.
    let mut day = 0;
    for _ in 0..50 {
        day = app.store.model_tokens_since(user, [now - 86_400_000, now - 86_400_000]).await.expect("db")[0];
        if day == PROMPT_TOKENS + COMPLETION_TOKENS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(day, PROMPT_TOKENS + COMPLETION_TOKENS);
    let (calls, _, micros) = app.store.model_spend_since(0, true).await.expect("db");
    // $1 and $2 per million tokens: 40 in and 10 out cost 40 + 20 micro-dollars.
    assert_eq!((calls, micros), (1, 60));
    let root = app.signup_admin("root").await;
    let (_, page) = app.get_page("/admin", Some(&root)).await;
    assert!(
        page.contains("Chat model this month") && page.contains("(1 calls, 50 tokens)"),
        "on the admin page: {page}"
    );
    assert_eq!(app.store.baseline(user, now).await.expect("db").spent_micros, 60, "it joins the month's spend");

    // The hour's allowance is spent: the model is not asked, the user is told once, and
    // images still work through the classifier.
    tab.say(thread.id, "m-2", "what is the population of Paris?").await;
    let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    let told = said(&frames);
    assert!(told[0].starts_with("You have used ") && told[0].contains("allowance of the chat model"), "{told:?}");
    tab.say(thread.id, "m-3", "cna u drwa a lighthouse in a storm plz").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    assert_eq!(frames.last().and_then(finished_job).map(|j| j.status), Some(JobStatus::Complete));
    assert_eq!(fake.sent().len(), 1, "only the first message reached the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_by_a_restart_says_so_instead_of_staying_empty() {
    let app = crate::helpers::spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let user = app.user_id("ada").await;
    // What a process that died mid-stream leaves behind: an empty assistant message.
    let new = server::store::NewMessage { user, thread: thread.id, client_id: None, role: Role::Assistant, text: "" };
    app.store.add_message(new).await.expect("db");
    let db = app.stop().await;
    let app = crate::helpers::spawn_app_on(db).await;
    let history = app.store.history(user, thread.id, None).await.expect("db").expect("thread");
    assert_eq!(history.messages[0].text, "The answer was interrupted by a server restart.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_is_called_at_most_so_many_times_at_once_and_the_rest_wait_their_turn() {
    let (base, fake) = fake_chat::start(false).await;
    let app = app_with_model(base, |s| {
        if let Some(chat) = s.chat_model.as_mut() {
            chat.max_concurrent = 1;
        }
    })
    .await;
    let mut tabs = Vec::new();
    for name in ["ada", "bob", "cyd"] {
        let cookie = app.signup(name).await;
        let mut tab = app.connect(&cookie).await;
        let thread = tab.create_thread("t").await;
        tabs.push((tab, thread));
    }
    // Three questions at once; each reply streams for about 200 ms.
    for (i, (tab, thread)) in tabs.iter_mut().enumerate() {
        tab.say(thread.id, &format!("q-{i}"), "what is the capital of France?").await;
    }
    for (tab, _) in &mut tabs {
        let frames = tab.read_until(|m| matches!(m, ServerMsg::MessageUpdated(_))).await;
        let Some(ServerMsg::MessageUpdated(u)) = frames.last() else { panic!("update") };
        assert_eq!(u.message.text, "Paris is the capital.", "every question answered by the model in turn");
    }
    assert_eq!(fake.sent().len(), 3);
    assert_eq!(fake.most_at_once.load(std::sync::atomic::Ordering::SeqCst), 1, "one call at a time");
}
