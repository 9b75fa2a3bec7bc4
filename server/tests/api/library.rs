//! The library (issue 13): the gallery searches prompts with each database's full-text
//! index, an image's page walks its lineage, a share link shows the image to anyone until it
//! is revoked, a deleted image's bytes go while its cost stays, and another account's image
//! ids are refused everywhere.

use std::time::Duration;

use app::gallery::GalleryQuery;
use app::protocol::*;

use crate::helpers::{finished_job, spawn_app, Client, TestApp};

async fn imagine(tab: &mut Client, thread: ThreadId, id: &str, text: &str) -> JobView {
    tab.say(thread, id, text).await;
    let job = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(job.status, JobStatus::Complete, "{job:?}");
    job
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> (reqwest::StatusCode, Option<String>, Vec<u8>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let mut req = client.get(app.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.expect("sent");
    let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    (res.status(), kind, res.bytes().await.expect("body").to_vec())
}

fn search(text: &str) -> GalleryQuery {
    GalleryQuery { search: text.into(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gallery_finds_images_by_the_words_of_their_prompts() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut ada = app.connect(&cookie).await;
    let thread = ada.create_thread("t").await;
    let fox = imagine(&mut ada, thread.id, "m-1", "/imagine a red fox in the snow").await;
    let dusk = imagine(&mut ada, thread.id, "m-2", "/imagine a lighthouse at dusk").await;
    let sea = imagine(&mut ada, thread.id, "m-3", "/imagine two lighthouses by the sea").await;
    let user = app.user_id("ada").await;
    let found = |q: &'static str| {
        let store = app.store.clone();
        async move {
            let page = store.gallery(user, &search(q)).await.expect("search");
            page.items.iter().map(|i| i.job).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("").await, vec![sea.id, dusk.id, fox.id], "everything, newest first");
    assert_eq!(found("lighthouse").await, vec![sea.id, dusk.id], "stemmed: lighthouses too");
    assert_eq!(found("LIGHT").await, vec![sea.id, dusk.id], "a prefix finds the word");
    assert_eq!(found("fox snow").await, vec![fox.id], "every word must match");
    assert_eq!(found("fox sea").await, Vec::<JobId>::new());
    // Query syntax of either database is only words here.
    for hostile in ["\"", "fox OR sea", "NEAR(fox sea)", "fox:*", "sea & !fox", "'); DROP TABLE jobs; --"] {
        let page = app.store.gallery(user, &search(hostile)).await.expect("a hostile search is only words");
        assert!(page.items.len() <= 3, "{hostile}");
    }
    assert_eq!(found("fox OR sea").await, Vec::<JobId>::new(), "OR is a word, and no prompt has it");

    // Filters, and the page a browser gets.
    let openai = GalleryQuery { engine: Some(ProviderKind::OpenAi), ..Default::default() };
    assert!(app.store.gallery(user, &openai).await.expect("filter").items.is_empty());
    let (status, page) = app.get_page("/gallery?q=lighthouse", Some(&cookie)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("alt=\"two lighthouses by the sea\"") && !page.contains("alt=\"a red fox in the snow\""),
        "{page}"
    );

    // Bob's gallery has none of Ada's images.
    let bob = app.signup("bob").await;
    let bob_id = app.user_id("bob").await;
    assert!(app.store.gallery(bob_id, &search("lighthouse")).await.expect("search").items.is_empty());
    let (_, page) = app.get_page("/gallery", Some(&bob)).await;
    assert!(!page.contains("lighthouse"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_shows_the_image_to_anyone_until_it_is_revoked() {
    let app = spawn_app().await;
    let cookie = app.signup("ownerxq").await;
    let mut ada = app.connect(&cookie).await;
    let thread = ada.create_thread("t").await;
    let job = imagine(&mut ada, thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    let image = job.images[0].id;

    let (status, location, _) = app.post_form(&format!("/images/{image}/share"), &[], Some(&cookie)).await;
    assert_eq!(
        (status, location.as_deref()),
        (reqwest::StatusCode::SEE_OTHER, Some(format!("/gallery/{image}#share").as_str()))
    );
    let user = app.user_id("ownerxq").await;
    let tokens = app.store.shares_of_image(user, image).await.expect("links");
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert!(token.len() >= 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "unguessable: {token}");

    // A signed-out visitor: the page with OpenGraph tags, and the image.
    let (status, page) = app.get_page(&format!("/s/{token}"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("a lighthouse at dusk"), "{page}");
    assert!(page.contains("property=\"og:image\"") && page.contains(&format!("/s/{token}/images/{image}/")), "{page}");
    assert!(!page.contains("ownerxq"), "nothing of the account: {page}");
    let (status, kind, bytes) = get(&app, &format!("/s/{token}/images/{image}/full"), None).await;
    assert_eq!((status, kind.as_deref()), (reqwest::StatusCode::OK, Some("image/png")));
    assert!(!bytes.is_empty());
    // The link covers that image only.
    let other = imagine(&mut ada, thread.id, "m-2", "/imagine a red fox").await.images[0].id;
    assert_eq!(get(&app, &format!("/s/{token}/images/{other}/full"), None).await.0, 404);
    assert_eq!(get(&app, &format!("/s/{}/images/{image}/full", "0".repeat(64)), None).await.0, 404);

    // Bob cannot revoke Ada's link; Ada can, and it stops at once.
    let bob = app.signup("bob").await;
    app.post_form(&format!("/shares/{token}/revoke"), &[], Some(&bob)).await;
    assert_eq!(get(&app, &format!("/s/{token}/images/{image}/full"), None).await.0, 200);
    let (status, _, _) =
        app.post_form(&format!("/shares/{token}/revoke"), &[("image", &image.to_string())], Some(&cookie)).await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &format!("/s/{token}/images/{image}/full"), None).await.0, 404);
    let (_, page) = app.get_page(&format!("/s/{token}"), None).await;
    assert!(page.contains("This link does not work"), "{page}");

    // A thread's link shows its images.
    let (_, location, _) = app.post_form(&format!("/threads/{}/share", thread.id), &[], Some(&cookie)).await;
    let shared = location.expect("opens the link");
    let (_, page) = app.get_page(&shared, None).await;
    assert!(page.contains("a lighthouse at dusk") && page.contains("a red fox"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_s_image_ids_are_refused_everywhere_and_a_deletion_keeps_the_ledger() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut ada = app.connect(&cookie).await;
    let thread = ada.create_thread("t").await;
    let job = imagine(&mut ada, thread.id, "m-1", "/imagine a lighthouse at dusk").await;
    let image = job.images[0].id;
    let user = app.user_id("ada").await;

    let bob = app.signup("bob").await;
    assert_eq!(get(&app, &format!("/images/{image}/full"), Some(&bob)).await.0, 404);
    let (_, page) = app.get_page(&format!("/gallery/{image}"), Some(&bob)).await;
    assert!(page.contains("This image does not exist, or it is not yours.") && !page.contains("lighthouse"), "{page}");
    assert_eq!(app.post_form(&format!("/images/{image}/share"), &[], Some(&bob)).await.0, 404);
    assert_eq!(app.post_form(&format!("/images/{image}/delete"), &[], Some(&bob)).await.0, 404);
    assert_eq!(app.post_form(&format!("/threads/{}/share", thread.id), &[], Some(&bob)).await.0, 404);
    assert!(app.store.image_variant(user, image, Variant::Full).await.expect("db").is_some(), "still there");

    // Ada's own page shows it with its lineage; a refinement is a child in the tree.
    let night = imagine(&mut ada, thread.id, "m-2", "make it at night").await;
    assert_eq!(night.refines, Some(job.id));
    let (_, page) = app.get_page(&format!("/gallery/{image}"), Some(&cookie)).await;
    assert!(page.contains("Versions") && page.contains(&format!("/gallery/{}", night.images[0].id)), "{page}");
    let lineage = app.store.lineage(user, night.id).await.expect("lineage");
    assert_eq!(lineage.iter().map(|n| (n.job, n.depth)).collect::<Vec<_>>(), vec![(job.id, 0), (night.id, 1)]);

    // Deleting: the bytes go, every tab hears it, the cost and the count stay.
    let cost = app.store.job_cost(job.id).await.expect("cost");
    let used = app.store.baseline(user, crate::helpers::now_ms()).await.expect("baseline").used;
    let (status, location, _) = app.post_form(&format!("/images/{image}/delete"), &[], Some(&cookie)).await;
    assert_eq!((status, location.as_deref()), (reqwest::StatusCode::SEE_OTHER, Some("/gallery?deleted=1")));
    let frames = ada.read_until(|m| matches!(m, ServerMsg::JobUpdated(u) if u.job.id == job.id)).await;
    let ServerMsg::JobUpdated(updated) = frames.last().expect("frame") else { unreachable!() };
    assert!(updated.job.images.is_empty());
    assert!(app.store.image_variant(user, image, Variant::Full).await.expect("db").is_none());
    assert_eq!(get(&app, &format!("/images/{image}/512"), Some(&cookie)).await.0, 404);
    assert_eq!(app.store.job_cost(job.id).await.expect("cost"), cost);
    assert_eq!(app.store.baseline(user, crate::helpers::now_ms()).await.expect("baseline").used, used);
    assert!(app
        .store
        .gallery(user, &GalleryQuery::default())
        .await
        .expect("gallery")
        .items
        .iter()
        .all(|i| i.image.id != image));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_exports_as_a_zip_of_its_images_and_their_prompts() {
    let app = spawn_app().await;
    let cookie = app.signup("ada").await;
    let mut ada = app.connect(&cookie).await;
    let thread = ada.create_thread("t").await;
    let fox = imagine(&mut ada, thread.id, "m-1", "/imagine a red fox").await;
    let owl = imagine(&mut ada, thread.id, "m-2", "/imagine a snowy owl").await;

    let (status, kind, bytes) = get(&app, &format!("/threads/{}/export.zip", thread.id), Some(&cookie)).await;
    assert_eq!((status.as_u16(), kind.as_deref()), (200, Some("application/zip")));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let first = format!("images/0001-{}.png", fox.images[0].id);
    let second = format!("images/0002-{}.png", owl.images[0].id);
    assert!(
        names.contains(&first) && names.contains(&second) && names.contains(&"prompts.json".to_string()),
        "{names:?}"
    );
    let mut png = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&first).expect("the fox"), &mut png).expect("read");
    let user = app.user_id("ada").await;
    let stored = app.store.image_variant(user, fox.images[0].id, Variant::Full).await.expect("db").expect("stored");
    assert_eq!(png, stored.bytes, "the original, as stored");
    let mut json = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("prompts.json").expect("prompts"), &mut json).expect("read");
    let prompts: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(prompts["images"][1]["prompt"], "a snowy owl");
    assert_eq!(prompts["images"][0]["file"], first.as_str());

    let bob = app.signup("bob").await;
    assert_eq!(get(&app, &format!("/threads/{}/export.zip", thread.id), Some(&bob)).await.0, 404);
}
