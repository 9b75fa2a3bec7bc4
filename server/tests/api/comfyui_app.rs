//! A ComfyUI job through the whole application: the chat shows its real steps and previews,
//! then the image.

use std::time::Duration;

use app::protocol::*;
use server::config::ProviderChoice;

use crate::comfyui::settings;
use crate::fake_comfyui::{FakeComfyUi, Reply, Run};
use crate::helpers::{finished_job, spawn_app_with, test_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comfyui_job_shows_real_steps_and_previews_then_the_image() {
    let run = Run { preview_every: 3, ..Run::slow(10, Duration::from_millis(30)) };
    let fake = FakeComfyUi::start(vec![Reply::Run(run)]).await;
    let s = settings(&fake.base_url);
    let app = spawn_app_with(test_db().await, move |settings| {
        settings.images = settings.images.clone().with_provider(ProviderChoice::ComfyUi(s));
    })
    .await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let frames = tab.read_until(|m| finished_job(m).is_some()).await;
    let progress: Vec<&JobProgress> = frames
        .iter()
        .filter_map(|f| match f {
            ServerMsg::JobProgress(p) => Some(p),
            _ => None,
        })
        .collect();
    let stepped: Vec<&&JobProgress> = progress.iter().filter(|p| p.detail.contains(" of 10")).collect();
    for n in [1, 3, 10] {
        let step = format!("Step {n} of 10");
        assert!(
            stepped.iter().any(|p| p.detail.contains(&step)),
            "no {step:?} in {:?}",
            progress.iter().map(|p| &p.detail).collect::<Vec<_>>()
        );
    }
    let percents: Vec<u8> = stepped.iter().map(|p| p.percent).collect();
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1]) && percents.first() < percents.last(),
        "percent rises: {percents:?}"
    );
    assert!(progress.iter().any(|p| p.preview.is_some()), "previews are shown");
    let done = finished_job(frames.last().expect("frames")).expect("finished");
    assert_eq!(done.status, JobStatus::Complete);
    assert_eq!(done.provider, ProviderKind::ComfyUi);
    assert!(done.image().is_some());
}
