//! The AUTOMATIC1111 provider through the whole application: `/imagine` on a user's tab
//! shows the engine's steps as job progress, then the finished image.

use app::protocol::*;
use server::config::{ImageSettings, ProviderChoice};

use crate::a1111::{settings, STEPS};
use crate::fake_a1111::FakeA1111;
use crate::helpers::{finished_job, spawn_app_with, test_db};

/// "Step 3 of 8: generating…" → (3, 8).
fn step_of(detail: &str) -> Option<(u32, u32)> {
    let rest = detail.split("Step ").nth(1)?;
    let (n, rest) = rest.split_once(" of ")?;
    let m: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((n.trim().parse().ok()?, m.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_on_a1111_shows_rising_steps_then_the_image() {
    let fake = FakeA1111::start().await;
    let s = settings(&fake);
    let s_steps = s.steps;
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = ImageSettings::default().with_provider(ProviderChoice::Automatic1111(s));
    })
    .await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let steps: Vec<(u32, u32)> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::JobProgress(p) => step_of(&p.detail),
            _ => None,
        })
        .collect();
    assert!(!steps.is_empty(), "no \"Step n of m\" in {frames:?}");
    assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0), "rising: {steps:?}");
    assert!(steps.iter().all(|(_, total)| *total == STEPS), "{steps:?}");
    let job = frames.last().and_then(finished_job).expect("finished");
    assert_eq!(job.status, JobStatus::Complete);
    assert_eq!(job.provider, ProviderKind::Automatic1111);
    assert!(job.image().is_some());
    assert_eq!(job.params.and_then(|p| p.steps), Some(s_steps), "the steps it ran, on the card");
    assert_eq!(fake.requests()[0].1["prompt"].as_str().map(|p| p.contains("lighthouse")), Some(true));
}
