//! The admin page as the server renders it, and the plan form behind it.

use app::protocol::*;
use reqwest::StatusCode;

use crate::fake_openai::FakeOpenAi;
use crate::helpers::{Client, TestApp};
use crate::quotas::{app_with, imagine_to_the_end};

async fn generate_once(app: &TestApp, cookie: &str) {
    let mut tab: Client = app.connect(cookie).await;
    let thread = tab.create_thread("t").await;
    let (job, _) = imagine_to_the_end(&mut tab, thread.id, "1").await;
    assert_eq!(job.status, JobStatus::Complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sees_spend_per_user_and_the_chart_and_others_do_not() {
    let fake = FakeOpenAi::start(vec![]).await;
    let app = app_with(Some(&fake), "").await;
    let ada = app.signup("ada").await;
    let root = app.signup_admin("root").await;
    generate_once(&app, &ada).await;
    generate_once(&app, &root).await;
    // One generation at the fake's usage: 50 text tokens at $5/M + 1056 image tokens at $30/M.
    let one = dollars(50 * 5 + 1056 * 30);

    let (status, page) = app.get_page("/admin", Some(&ada)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Only admins can see this page."), "{page}");
    assert!(!page.contains("Daily trend"));

    let (_, page) = app.get_page("/admin", Some(&root)).await;
    assert!(page.contains("Daily trend") && page.contains("<svg"), "the chart is drawn");
    assert!(page.contains(r#"aria-label="Daily image spend from"#));
    assert!(page.contains("<th scope=\"row\">ada</th>") && page.contains("<th scope=\"row\">root</th>"));
    assert!(page.contains(&format!("<dd>{one}</dd>")), "totals count ada's job only: {one}");
    assert!(page.contains("Test and admin generations left out."));

    // With exempt generations included, the admin's own job is in the totals too.
    let (_, page) = app.get_page("/admin?all=1", Some(&root)).await;
    let two = dollars(2 * (50 * 5 + 1056 * 30));
    assert!(page.contains(&format!("<dd>{two}</dd>")), "{two}");
    let (_, page) = app.get_page("/", Some(&root)).await;
    assert!(page.contains(r#"href="/admin""#), "admins get a link to it");
    let (_, page) = app.get_page("/", Some(&ada)).await;
    assert!(!page.contains(r#"href="/admin""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_can_change_a_plan_and_the_user_sees_the_new_limits() {
    let app = app_with(None, "").await;
    let ada = app.signup("ada").await;
    let root = app.signup_admin("root").await;
    let id = app.store.credentials("ada").await.expect("db").expect("ada").user.id;
    let mut tab = app.connect(&ada).await;
    let form = [("user_id", id.0.to_string()), ("tier", "premium".to_string()), ("test_account", "on".to_string())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let (status, _, _) = app.post_form("/api/update_plan", &form, Some(&ada)).await;
    assert!(!status.is_success() && !status.is_redirection(), "refused for a non-admin: {status}");
    assert_eq!(app.store.plan(id).await.expect("db").map(|p| p.tier), Some(Tier::Free));

    let (status, _, _) = app.post_form("/api/update_plan", &form, Some(&root)).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let plan = app.store.plan(id).await.expect("db").expect("plan");
    assert_eq!((plan.tier, plan.test_account), (Tier::Premium, true));
    assert_eq!(tab.next_quota().await.tier, Tier::Premium, "ada's tab hears of it at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_the_spend_alert_shows_a_banner() {
    let fake = FakeOpenAi::start(vec![]).await;
    let base = fake.base_url.clone();
    let app = crate::helpers::spawn_app_with(crate::helpers::test_db().await, move |s| {
        s.quotas.spend_alert_micros = Some(10_000);
        s.images = std::mem::take(&mut s.images).with_provider(server::config::ProviderChoice::OpenAi(
            server::providers::openai::OpenAiSettings {
                api_key: "sk-test".into(),
                base_url: base,
                model: "gpt-image-2.5-flare".into(),
                size: "1024x1024".into(),
                quality: None,
                partial_images: 0,
                request_timeout: std::time::Duration::from_secs(10),
                image_url_hosts: Default::default(),
            },
        ));
    })
    .await;
    let root = app.signup_admin("root").await;
    let ada = app.signup("ada").await;
    let (_, page) = app.get_page("/admin", Some(&root)).await;
    assert!(!page.contains("Spend alert"), "nothing spent yet");
    generate_once(&app, &ada).await;
    let (_, page) = app.get_page("/admin", Some(&root)).await;
    assert!(page.contains("Spend alert: this month's image spend"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_name_claimed_by_sign_up_gets_no_rights_until_the_operator_grants_them() {
    // The test settings list `root` in EASEL_ADMINS; no account `root` existed at start-up.
    let app = app_with(None, "").await;
    let ada = app.signup("ada").await;
    let claimed = app.signup("root").await;
    let id = app.store.credentials("ada").await.expect("db").expect("ada").user.id;
    let (_, page) = app.get_page("/admin", Some(&claimed)).await;
    assert!(page.contains("Only admins can see this page."), "a listed name signed up is no admin");
    let (_, page) = app.get_page("/", Some(&claimed)).await;
    assert!(!page.contains(r#"href="/admin""#));
    let form = [("user_id", id.0.to_string()), ("tier", "premium".to_string())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _ = app.post_form("/api/update_plan", &form, Some(&claimed)).await;
    assert_eq!(app.store.plan(id).await.expect("db").map(|p| p.tier), Some(Tier::Free), "no plan changed");

    // Nor at the next start-up: the account was made after the name was listed.
    server::admin::grant_listed(&app.store, &["root".to_string()]).await.expect("start-up");
    let (_, page) = app.get_page("/admin", Some(&claimed)).await;
    assert!(page.contains("Only admins can see this page."), "a restart grants nothing either");

    // An account that existed when its name was first listed is granted at start-up; the
    // same session sees it at once. A revocation holds across restarts.
    server::admin::grant_listed(&app.store, &["ada".to_string(), "nobody".to_string()]).await.expect("start-up");
    let (_, page) = app.get_page("/admin", Some(&ada)).await;
    assert!(page.contains("Daily trend"), "granted");
    assert!(app.store.set_admin("ada", false).await.expect("db"));
    server::admin::grant_listed(&app.store, &["ada".to_string()]).await.expect("start-up");
    let (_, page) = app.get_page("/admin", Some(&ada)).await;
    assert!(page.contains("Only admins can see this page."), "revoked, and not granted again");
    // The operator's command grants whoever it names.
    assert!(app.store.set_admin("root", true).await.expect("db"));
    let (_, page) = app.get_page("/admin", Some(&claimed)).await;
    assert!(page.contains("Daily trend"), "granted by the command");
    assert!(!app.store.set_admin("nobody", true).await.expect("db"), "no account, nothing granted");
}
