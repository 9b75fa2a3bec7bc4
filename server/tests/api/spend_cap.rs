//! The server-wide monthly spending cap (K2): once everyone's spend this month reaches
//! `EASEL_SPEND_CAP_USD`, paid images and chat-model replies are refused for every user with
//! a clear sentence, the admin page says so, and nothing more reaches the paid providers.

use app::protocol::*;
use server::chat_model::{ChatModelSettings, TokenRates};
use server::config::ProviderChoice;

use crate::fake_chat;
use crate::fake_openai::FakeOpenAi;
use crate::helpers::{finished_job, spawn_app_with, test_db};
use crate::quotas::imagine_refused;

/// What one generation at the fake's usage costs: 50 text tokens at $5/M and 1,056 image
/// tokens at $30/M.
const ONE_IMAGE: i64 = (50 * 5 + 1056 * 30) as i64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaching_the_cap_mid_month_stops_paid_work_for_everyone() {
    let images = FakeOpenAi::start(vec![]).await;
    let (chat_base, chat) = fake_chat::start(false).await;
    let openai = crate::quotas::openai_at(&images);
    let app = spawn_app_with(test_db().await, move |s| {
        s.quotas.spend_cap_micros = Some(ONE_IMAGE);
        s.images = std::mem::take(&mut s.images).with_provider(ProviderChoice::OpenAi(openai));
        let mut model = ChatModelSettings::new(chat_base, "sk-test", "fake-chat");
        model.rates = TokenRates::parse("input=1,output=2").expect("prices");
        s.chat_model = Some(model);
    })
    .await;

    // Ada's image takes the month's spend to the cap.
    let (mut ada, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let job = ada.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(app.store.job_cost(job.id).await.expect("cost"), Some(ONE_IMAGE));

    // Bob has spent nothing of his own, and is still refused: the cap is the server's.
    let cookie = app.signup("bob").await;
    let mut bob = app.connect(&cookie).await;
    let thread = bob.create_thread("t").await;
    let refusal = imagine_refused(&mut bob, thread.id, "1").await;
    assert!(
        refusal.starts_with(
            "This server has reached its spending limit for the month, so new images are paused for everyone until "
        ),
        "{refusal}"
    );
    assert_eq!(images.requests().len(), 1, "nothing more reached the image provider");

    // The chat model is paid too: not asked, and the user is told why.
    bob.say(thread.id, "m-2", "what is the capital of France?").await;
    let frames = bob.read_until(|m| matches!(m, ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant)).await;
    let told = frames.iter().find_map(|f| match f {
        ServerMsg::MessageAdded(a) if a.message.role == Role::Assistant => Some(a.message.text.clone()),
        _ => None,
    });
    assert!(told.as_deref().is_some_and(|t| t.contains("the chat model is paused")), "{told:?}");
    assert!(chat.sent().is_empty(), "the chat model was not called");

    let root = app.signup_admin("root").await;
    let (_, page) = app.get_page("/admin", Some(&root)).await;
    assert!(page.contains("Spending cap reached: this month's spend, $0.03, has reached the $0.03 cap."), "{page}");
}
