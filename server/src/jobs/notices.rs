//! Quota emails: at 80 % of a window, and when a window or the monthly spending budget is
//! reached, one email to a user who gave an address (not one per image). Each notice is
//! claimed in the database for its window's period before it is sent, so several instances,
//! or several images in one request, send it once. What is due is pure ([`due`]); sending
//! runs on its own task, so an admission never waits for a mail server.

use app::protocol::{dollars, reset_phrase, Tier, UserId, Window};

use super::Jobs;
use crate::limits::{Limits, Usage};

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Stable, with `period`, for the once-only claim ("hour-80", "day-reached", "spend-reached").
    pub kind: String,
    pub period: i64,
    pub subject: String,
    pub body: String,
}

/// What `usage` under `limits` calls for: per window, "reached" when it is used up, else
/// "80" from 80 %; the spend budget when it is spent.
pub fn due(limits: &Limits, usage: &Usage) -> Vec<Notice> {
    let mut notices = Vec::new();
    for window in Window::ALL {
        let (used, limit) = (usage.used(window), limits.of(window));
        if limit == 0 || limit == u32::MAX {
            continue;
        }
        let period = usage.ids.of(window);
        let more = reset_phrase(window, window.end_of(period));
        let name = window.adjective();
        if used >= limit {
            notices.push(Notice {
                kind: format!("{}-reached", window_key(window)),
                period,
                subject: format!("Easel: your {name} images are used up"),
                body: format!(
                    "You have used all {limit} of your {name} images. More become available {more}.\n\n— Easel"
                ),
            });
        } else if u64::from(used) * 100 >= u64::from(limit) * 80 {
            notices.push(Notice {
                kind: format!("{}-80", window_key(window)),
                period,
                subject: format!("Easel: 80 % of your {name} images used"),
                body: format!(
                    "You have used {used} of your {limit} {name} images; {} left until {}.\n\n— Easel",
                    limit - used,
                    more.trim_start_matches("at ").trim_start_matches("on ")
                ),
            });
        }
    }
    if limits.spend_cap_micros > 0 && usage.spent_micros >= limits.spend_cap_micros {
        let month = usage.ids.month;
        notices.push(Notice {
            kind: "spend-reached".into(),
            period: month,
            subject: "Easel: your monthly spending budget is reached".into(),
            body: format!(
                "This month's images and replies have cost {} of your {} budget; paid images pause until {}.\n\n— Easel",
                dollars(usage.spent_micros),
                dollars(limits.spend_cap_micros),
                reset_phrase(Window::Month, Window::Month.end_of(month)).trim_start_matches("on ")
            ),
        });
    }
    notices
}

fn window_key(window: Window) -> &'static str {
    match window {
        Window::Hour => "hour",
        Window::Day => "day",
        Window::Month => "month",
    }
}

impl Jobs {
    /// Sends what `usage` calls for to `user`, if they gave an address and mail is configured.
    pub(super) fn notify(&self, user: UserId, tier: Tier, usage: &Usage) {
        let Some(mailer) = self.mailer.clone() else { return };
        let notices = due(self.slots.policies().of(tier), usage);
        if notices.is_empty() {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            let address = match store.preferences(user).await {
                Ok(p) => p.email,
                Err(e) => {
                    tracing::warn!(%user, error = %e, "a quota notice could not read its address");
                    return;
                }
            };
            let Some(address) = address else { return };
            for notice in notices {
                match store.claim_notice(user, &notice.kind, notice.period).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(%user, error = %e, "a quota notice could not be claimed");
                        continue;
                    }
                }
                match mailer.send(&address, &notice.subject, notice.body).await {
                    Ok(()) => tracing::info!(%user, kind = %notice.kind, "quota email sent"),
                    Err(e) => tracing::warn!(%user, kind = %notice.kind, error = %e, "a quota email was not sent"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::WindowIds;

    fn usage(used: [u32; 3], spent_micros: i64) -> Usage {
        let now_ms = 1_764_000_000_000;
        Usage { now_ms, ids: WindowIds::at(now_ms), used, spent_micros, cooldown_ms: 0, running: 0 }
    }

    fn limits() -> Limits {
        let mut l = crate::limits::Policies::default().free;
        l.hourly = 5;
        l.daily = 100;
        l.monthly = 1000;
        l.spend_cap_micros = 1_000_000;
        l
    }

    #[test]
    fn eighty_percent_then_reached_then_the_budget() {
        let kinds = |u: Usage| due(&limits(), &u).into_iter().map(|n| n.kind).collect::<Vec<_>>();
        assert!(kinds(usage([3, 3, 3], 0)).is_empty());
        assert_eq!(kinds(usage([4, 4, 4], 0)), ["hour-80"]);
        assert_eq!(kinds(usage([5, 5, 5], 0)), ["hour-reached"], "reached, not also 80 %");
        assert_eq!(kinds(usage([1, 80, 80], 0)), ["day-80"]);
        assert_eq!(kinds(usage([1, 1, 1], 1_000_000)), ["spend-reached"]);
        let n = &due(&limits(), &usage([4, 4, 4], 0))[0];
        assert!(
            n.subject.contains("80 %") && n.body.contains("You have used 4 of your 5 hourly images; 1 left"),
            "{n:?}"
        );
    }
}
