//! Creative controls (issue 13): the composer row's shape, quality and count reach the
//! provider as its API spells them; several images come back as one message and count once
//! each; the price shown before Send is what the ledger then records; a Refine names the
//! image changed; another account's image is refused.

use app::protocol::*;

use crate::fake_openai::FakeOpenAi;
use crate::helpers::{finished_job, Client};
use crate::quotas::app_with;

async fn finished(tab: &mut Client) -> JobView {
    tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a finished job")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_s_settings_reach_the_provider_and_three_images_count_three() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "hour=10,day=10,month=10,cooldown=0").await;
    let cookie = app.signup("ada").await;
    let (socket, welcome) = app.try_connect(Some(&cookie), Some(&app.origin())).await.expect("socket");
    let mut ada = Client { socket };
    let choices = welcome.choices.expect("the row's choices come with the welcome");
    let engine = choices.engine(None).expect("the default engine").clone();
    assert_eq!(engine.kind, ProviderKind::OpenAi);
    assert!(engine.qualities.contains(&Quality::High) && engine.aspects.contains(&AspectRatio::Wide));

    let thread = ada.create_thread("t").await;
    let options = ImageOptions {
        aspect: Some(AspectRatio::Landscape),
        quality: Some(Quality::High),
        count: 3,
        ..Default::default()
    };
    ada.say_with(thread.id, "m-1", "/imagine a lighthouse at dusk", options).await;
    let job = finished(&mut ada).await;
    assert_eq!(job.status, JobStatus::Complete, "{job:?}");
    assert_eq!(job.images.len(), 3, "three images in one message");
    let params = job.params.clone().expect("parameters recorded");
    assert_eq!((params.count, params.width, params.height, params.quality), (3, 1536, 1024, Some(Quality::High)));

    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "one request for the three: the API makes n at once");
    assert_eq!(sent[0]["n"], 3);
    assert_eq!(sent[0]["size"], "1536x1024");
    assert_eq!(sent[0]["quality"], "high");

    // Every image counts against the windows.
    let user = app.user_id("ada").await;
    let baseline = app.store.baseline(user, crate::helpers::now_ms()).await.expect("baseline");
    assert_eq!(baseline.used, [3, 3, 3]);

    // The price shown before Send is what the ledger recorded, to the cent.
    let shown = engine.estimate(AspectRatio::Landscape, Some(Quality::High), 3).expect("priced");
    let settled = app.store.job_cost(job.id).await.expect("cost").expect("recorded");
    assert_eq!(job.cost_micros, Some(settled));
    assert_eq!(estimate_text(Some(shown)), format!("≈ {}", dollars(settled)));
    assert!((shown - settled).abs() <= 500, "estimate {shown} vs settled {settled}");

    // The history shows the same three images, variants and all.
    let reloaded = app.store.job(user, job.id).await.expect("db").expect("job").0;
    assert_eq!(
        reloaded.images.iter().map(|i| i.id).collect::<Vec<_>>(),
        job.images.iter().map(|i| i.id).collect::<Vec<_>>()
    );
    assert!(reloaded.images.iter().all(|i| !i.variants.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_win_over_the_row_and_a_window_too_small_for_the_count_says_so() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "hour=3,day=10,month=10,cooldown=0").await;
    let (mut ada, thread) = app.new_user_says("ada", "/imagine a wide valley at noon").await;
    let _ = finished(&mut ada).await;
    assert_eq!(fake.requests()[0]["size"], "1536x1024", "the words' shape");

    let portrait = ImageOptions { aspect: Some(AspectRatio::Portrait), ..Default::default() };
    ada.say_with(thread.id, "m-2", "/imagine a wide river", portrait.clone()).await;
    let job = finished(&mut ada).await;
    assert_eq!(job.params.expect("params").aspect, AspectRatio::Landscape, "\"wide\" in the message wins");

    // One image is left this hour: three are refused with a sentence that says how many.
    let three = ImageOptions { count: 3, ..portrait };
    ada.say_with(thread.id, "m-3", "/imagine a fox", three).await;
    let refusal = ada.next_answer().await;
    assert!(refusal.job.is_none(), "{refusal:?}");
    assert!(
        refusal.text.starts_with("You asked for 3 images, and there is 1 image left this hour"),
        "{}",
        refusal.text
    );
    assert_eq!(fake.requests().len(), 2, "the refused request reached no provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refine_changes_the_image_named_and_other_accounts_images_are_refused() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "hour=20,day=20,month=20,cooldown=0").await;
    let (mut ada, thread) = app.new_user_says("ada", "/imagine a red barn").await;
    let _ = finished(&mut ada).await;
    ada.say_with(thread.id, "m-2", "/imagine a lighthouse", ImageOptions { count: 3, ..Default::default() }).await;
    let three = finished(&mut ada).await;

    // "The second one": that image, of the last job.
    ada.say(thread.id, "m-3", "make the second one bluer").await;
    let second = finished(&mut ada).await;
    assert_eq!(second.refines, Some(three.id));
    assert_eq!(second.params.as_ref().and_then(|p| p.source), Some(three.images[1].id));
    let edit = fake.requests().last().cloned().expect("a request");
    assert_eq!((edit["endpoint"].as_str(), edit["image"].as_bool()), (Some("edits"), Some(true)), "{edit}");

    // A Refine button on the first job's image: that one, though it is not the last.
    let barn = app.store.jobs_of_thread(thread.id, (MessageId(0), MessageId(i64::MAX))).await.expect("jobs");
    let barn = barn.values().find(|j| j.prompt == "a red barn").expect("the barn").clone();
    let source = barn.images[0].id;
    ada.say_with(thread.id, "m-4", "at night", ImageOptions { source: Some(source), ..Default::default() }).await;
    let night = finished(&mut ada).await;
    assert_eq!((night.refines, night.params.as_ref().and_then(|p| p.source)), (Some(barn.id), Some(source)));
    assert!(
        night.enhanced_prompt.contains("barn") && night.enhanced_prompt.contains("night"),
        "{}",
        night.enhanced_prompt
    );

    // Bob names Ada's image: refused before anything is stored or sent.
    let before = fake.requests().len();
    let cookie = app.signup("bob").await;
    let mut bob = app.connect(&cookie).await;
    let bobs = bob.create_thread("b").await;
    bob.say_with(bobs.id, "b-1", "make it green", ImageOptions { source: Some(source), ..Default::default() }).await;
    match bob.recv().await {
        ServerMsg::Error(e) => {
            assert_eq!((e.code, e.message.as_str()), (ErrorCode::Invalid, "That image is not available."));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(bob.is_quiet_for(std::time::Duration::from_millis(300)).await, "nothing stored, nothing answered");
    assert_eq!(fake.requests().len(), before);
    let bob_id = app.user_id("bob").await;
    assert!(app.store.image_variant(bob_id, source, Variant::Full).await.expect("db").is_none());
}
