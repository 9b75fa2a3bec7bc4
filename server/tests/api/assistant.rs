//! The assistant in the whole application: plain requests start jobs, refinements build on
//! the thread's last image and record it, ordinary messages get a short answer.

use app::protocol::*;

use crate::helpers::{finished_job, spawn_app, Client};

async fn says_and_gets_an_image(tab: &mut Client, thread: ThreadId, id: &str, text: &str) -> JobView {
    tab.say(thread, id, text).await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let job = frames.last().and_then(finished_job).expect("a finished job");
    assert_eq!(job.status, JobStatus::Complete, "{text}");
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refinement_builds_on_the_last_image_and_points_to_it() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;

    let first = says_and_gets_an_image(&mut tab, thread.id, "1", "draw me a red fox in the snow").await;
    assert_eq!(first.prompt, "draw me a red fox in the snow", "the user's words are kept");
    assert_eq!(first.enhanced_prompt, "a red fox in the snow");
    assert_eq!(first.refines, None);

    let second = says_and_gets_an_image(&mut tab, thread.id, "2", "make it more vibrant").await;
    assert_eq!(second.enhanced_prompt, "a red fox in the snow, more vibrant");
    assert_eq!(second.refines, Some(first.id), "the record points to the image it refines");
    assert_eq!(second.prompt, "make it more vibrant");

    // A style asked for once carries over, and a refinement of the refinement chains on.
    let third = says_and_gets_an_image(&mut tab, thread.id, "3", "same image but in watercolor style").await;
    assert_eq!(third.enhanced_prompt, "a red fox in the snow, more vibrant, in watercolor style");
    assert_eq!(third.refines, Some(second.id));
    let fourth = says_and_gets_an_image(&mut tab, thread.id, "4", "now draw me a bear").await;
    assert_eq!((fourth.enhanced_prompt.as_str(), fourth.refines), ("a bear, in watercolor style", None));

    // The lineage survives a reload.
    let history = app
        .store
        .history(app.store.credentials("ada").await.expect("db").expect("ada").user.id, thread.id, None)
        .await
        .expect("db")
        .expect("thread");
    let jobs: Vec<JobView> = history.messages.into_iter().filter_map(|m| m.job).collect();
    assert_eq!(jobs.iter().map(|j| j.refines).collect::<Vec<_>>(), vec![None, Some(first.id), Some(second.id), None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_messages_get_a_short_answer_once_and_context_requests_draw_the_idea() {
    let app = spawn_app().await;
    let (mut tab, thread) =
        app.new_user_says("ada", "I'm thinking of a treehouse village connected by rope bridges").await;
    tab.next_message().await;
    let answer = tab.next_message().await;
    assert_eq!(answer.role, Role::Assistant);
    assert!(answer.text.contains("draw me"), "it says how to ask: {}", answer.text);
    let job = says_and_gets_an_image(&mut tab, thread.id, "m-2", "show me what that would look like").await;
    assert_eq!(job.enhanced_prompt, "a treehouse village connected by rope bridges");
}

/// H1: lowercasing changes byte lengths (U+212A KELVIN SIGN, 3 bytes, lowercases to "k"); a
/// refinement of such a prompt once panicked the socket's task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refining_a_prompt_whose_letters_shrink_when_lowercased_works() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    let kelvin = "\u{212A}\u{212A}\u{212A}";
    let first = says_and_gets_an_image(&mut tab, thread.id, "m-1", &format!("/imagine {kelvin} at night")).await;
    let second = says_and_gets_an_image(&mut tab, thread.id, "m-2", "make it at dawn").await;
    assert_eq!(second.refines, Some(first.id), "a refinement of the first image");
    assert!(
        second.enhanced_prompt.contains("at dawn") && !second.enhanced_prompt.contains("at night"),
        "{}",
        second.enhanced_prompt
    );
    assert!(second.enhanced_prompt.contains(kelvin), "{}", second.enhanced_prompt);
}
