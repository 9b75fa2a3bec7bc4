//! Bounds on what one user can make the server do (D2, D3).

use app::protocol::*;

use crate::helpers::{finished_job, spawn_app};

fn assistant_text(m: &ServerMsg) -> Option<String> {
    match m {
        ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant && a.message.job.is_none() => {
            Some(a.message.text.clone())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_past_the_providers_limit_is_refused_in_words_and_so_is_a_refinement_chain() {
    let app = spawn_app().await;
    let words = "a lighthouse on a cliff with gulls ".repeat(120); // 4,200 characters
    let (mut tab, thread) = app.new_user_says("ada", &format!("/imagine {words}")).await;
    let said = tab.read_until(|m| assistant_text(m).is_some()).await.iter().find_map(assistant_text);
    assert!(said.as_deref().is_some_and(|t| t.starts_with("That description is too long for the image model")), "{said:?}");

    // A short image, then a change that would take the chain past the bound.
    tab.say(thread.id, "2", "/imagine a lighthouse").await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("job");
    assert_eq!(job.status, JobStatus::Complete);
    let change = "brighter and with more gulls over the waves ".repeat(95); // 4,180 characters
    tab.say(thread.id, "3", &format!("make it {change}")).await;
    let said = tab.read_until(|m| assistant_text(m).is_some()).await.iter().find_map(assistant_text);
    assert!(said.as_deref().is_some_and(|t| t.starts_with("That description is too long")), "{said:?}");
    let jobs = app.store.history(app.user_id("ada").await, thread.id, None).await.expect("db").expect("thread");
    assert_eq!(jobs.messages.iter().filter(|m| m.job.is_some()).count(), 1, "no job was made of either");
}
