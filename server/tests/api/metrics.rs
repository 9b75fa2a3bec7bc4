//! `/metrics` scraped as Prometheus would (issue 14): the series a dashboard needs are there
//! after a socket, a message and a job; with a token set it answers only the bearer of it.
//! The recorder is process-wide, so counts include other tests' work: checked as "at least".

use app::protocol::JobStatus;

use crate::helpers::{finished_job, spawn_app, spawn_app_with, test_db};

/// The value of the first sample of `series` whose labels contain every one of `labels`.
fn sample(text: &str, series: &str, labels: &[&str]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        let matches =
            (name == series || name.starts_with(&format!("{series}{{"))) && labels.iter().all(|l| name.contains(l));
        matches.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_sockets_messages_jobs_and_provider_latency() {
    let app = spawn_app().await;
    let (mut tab, _) = app.new_user_says("ada", "/imagine a lighthouse").await;
    let done = tab.read_until(|m| finished_job(m).is_some()).await.last().and_then(finished_job).expect("a job");
    assert_eq!(done.status, JobStatus::Complete);

    let res = reqwest::get(app.url("/metrics")).await.expect("scrape");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = res.text().await.expect("text");
    let at_least_one = |series: &str, labels: &[&str]| {
        let value = sample(&text, series, labels).unwrap_or_else(|| panic!("no {series} {labels:?} in\n{text}"));
        assert!(value >= 1.0, "{series} {labels:?} = {value}");
    };
    at_least_one("easel_sockets_open", &[]);
    at_least_one("easel_messages_total", &["role=\"user\""]);
    at_least_one("easel_jobs_total", &["provider=\"built-in renderer\"", "outcome=\"complete\""]);
    at_least_one("easel_provider_seconds_count", &["provider=\"built-in renderer\""]);
    assert!(text.contains("easel_provider_seconds_bucket{"), "a histogram with buckets");
    assert!(sample(&text, "easel_hub_undelivered", &[]).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_only_its_bearer_gets_the_metrics() {
    let app = spawn_app_with(test_db().await, |s| s.metrics_token = Some("s3cret-token".into())).await;
    let http = reqwest::Client::new();
    let anonymous = http.get(app.url("/metrics")).send().await.expect("scrape");
    assert_eq!(anonymous.status(), 404, "not even from loopback");
    let wrong = http.get(app.url("/metrics")).bearer_auth("guess").send().await.expect("scrape");
    assert_eq!(wrong.status(), 404);
    let right = http.get(app.url("/metrics")).bearer_auth("s3cret-token").send().await.expect("scrape");
    assert_eq!(right.status(), 200);
    assert!(right.text().await.expect("text").contains("easel_"));
}
