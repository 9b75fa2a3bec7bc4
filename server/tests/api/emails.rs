//! Quota emails (issue 13): with an address on the settings page and `SMTP_URL` set, a user
//! gets one email at 80 % of a window and one when it is used up, sent over SMTP to a real
//! server on loopback; never one per image, and nothing for users without an address.

use std::time::Duration;

use server::email::EmailSettings;

use crate::fake_smtp::FakeSmtp;
use crate::helpers::{finished_job, roomy, spawn_app_with, test_db, Client};

async fn imagine(tab: &mut Client, thread: app::protocol::ThreadId, id: &str) {
    tab.say(thread, id, &format!("/imagine a lantern {id}")).await;
    tab.read_until(|m| finished_job(m).is_some()).await;
}

async fn mails_after(smtp: &FakeSmtp, count: usize) -> Vec<crate::fake_smtp::Mail> {
    for _ in 0..100 {
        if smtp.mails().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And a moment more, so an extra one would show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    smtp.mails()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_email_at_80_percent_and_one_when_the_hour_is_used_up() {
    let smtp = FakeSmtp::start().await;
    let url = smtp.url();
    let free = roomy().free.with_spec("hour=5,day=100,month=1000,cooldown=0").expect("spec");
    let app = spawn_app_with(test_db().await, move |s| {
        s.quotas.policies.free = free;
        s.email = Some(EmailSettings { smtp_url: url, from: "Easel <easel@example.org>".into() });
    })
    .await;
    let cookie = app.signup("ada").await;
    let form = [("aspect", "square"), ("quality", ""), ("email", "ada@example.com")];
    let (status, location, _) = app.post_form("/settings", &form, Some(&cookie)).await;
    assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/settings?done=1")));
    let bad = [("aspect", "square"), ("quality", ""), ("email", "ada@example.com\r\nBcc: eve@example.com")];
    let (_, location, _) = app.post_form("/settings", &bad, Some(&cookie)).await;
    assert_eq!(location.as_deref(), Some("/settings?error=email"), "no header injection");

    // Bob has no address: he never gets mail.
    let (mut bob, bobs) = app.new_user_says("bob", "/imagine a lantern b0").await;
    bob.read_until(|m| finished_job(m).is_some()).await;

    let mut tab = app.connect(&cookie).await;
    let thread = tab.create_thread("t").await;
    for i in 1..=3 {
        imagine(&mut tab, thread.id, &format!("m-{i}")).await;
    }
    assert!(mails_after(&smtp, 1).await.is_empty(), "3 of 5 is not 80 %");
    imagine(&mut tab, thread.id, "m-4").await;
    let mails = mails_after(&smtp, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, ["ada@example.com"]);
    assert_eq!(mails[0].from, "easel@example.org");
    assert_eq!(mails[0].subject(), Some("Easel: 80 % of your hourly images used"));
    assert!(mails[0].data.contains("You have used 4 of your 5 hourly images"), "{}", mails[0].data);

    imagine(&mut tab, thread.id, "m-5").await;
    // Refused: the hour is used up; no third email for that.
    tab.say(thread.id, "m-6", "/imagine a lantern m-6").await;
    tab.read_until(
        |m| matches!(m, app::protocol::ServerMsg::MessageAdded(a) if a.message.role == app::protocol::Role::Assistant),
    )
    .await;
    let mails = mails_after(&smtp, 2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].subject(), Some("Easel: your hourly images are used up"));
    for i in 1..=3 {
        bob.say(bobs.id, &format!("b-{i}"), &format!("/imagine a lantern b{i}")).await;
        bob.read_until(|m| finished_job(m).is_some()).await;
    }
    assert_eq!(mails_after(&smtp, 3).await.len(), 2, "bob gave no address");
}
