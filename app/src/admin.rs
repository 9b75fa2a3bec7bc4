//! What the admin page shows, as the server function returns it, and the arithmetic of its
//! chart (pure, so it is tested without a browser).

use serde::{Deserialize, Serialize};

use crate::protocol::{Tier, UserId};

/// Spend so far, in millionths of a dollar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SpendTotals {
    pub all_time: i64,
    pub today: i64,
    pub month: i64,
}

/// What the chat model used over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSpend {
    pub calls: i64,
    pub tokens: i64,
    pub spent: i64,
}

/// One account on the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub id: UserId,
    pub username: String,
    pub tier: Tier,
    pub test_account: bool,
    /// Generations this hour, today, this month, and the tier's limits for each.
    pub used: [u32; 3],
    pub limits: [u32; 3],
    pub spent_month: i64,
    pub spend_cap: i64,
    pub spent_all: i64,
}

impl AdminUser {
    /// At or past 80 % of a window or of the monthly budget.
    pub fn near_limit(&self) -> bool {
        let near = |used: u64, limit: u64| limit > 0 && used * 100 >= limit * 80;
        self.used.iter().zip(self.limits).any(|(&u, l)| near(u.into(), l.into()))
            || near(self.spent_month.max(0) as u64, self.spend_cap.max(0) as u64)
    }
}

/// One UTC day of the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPoint {
    /// Days since 1970-01-01.
    pub day: i64,
    pub images: i64,
    pub spent: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub totals: SpendTotals,
    /// Whether exempt generations (admins', test accounts') are in these numbers.
    pub include_exempt: bool,
    /// The month's spend alert threshold, if one is set.
    pub alert_threshold: Option<i64>,
    /// The server-wide monthly cap and this month's spend by everyone (exempt accounts and
    /// the chat model included), when a cap is set.
    pub spend_cap: Option<(i64, i64)>,
    /// The chat model this month (K1): calls, tokens and their cost.
    #[serde(default)]
    pub chat_month: ChatSpend,
    pub users: Vec<AdminUser>,
    /// The last 30 days, oldest first, every day present.
    pub days: Vec<DayPoint>,
}

impl AdminOverview {
    /// The banner's text when the server-wide cap is reached and paid work is refused.
    pub fn cap_reached(&self) -> Option<String> {
        let (cap, spent) = self.spend_cap?;
        (spent >= cap).then(|| {
            format!(
                "Spending cap reached: this month's spend, {}, has reached the {} cap. Paid images and chat-model \
                 replies are refused for everyone until the month ends.",
                crate::protocol::dollars(spent),
                crate::protocol::dollars(cap)
            )
        })
    }

    /// The banner's text when this month's spend has reached the threshold.
    pub fn alert(&self) -> Option<String> {
        let threshold = self.alert_threshold?;
        (self.totals.month >= threshold).then(|| {
            format!(
                "Spend alert: this month's image spend, {}, has passed the {} threshold.",
                crate::protocol::dollars(self.totals.month),
                crate::protocol::dollars(threshold)
            )
        })
    }
}

/// A bar of the trend chart, in the chart's own units (see [`CHART_W`], [`CHART_H`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub point: DayPoint,
}

pub const CHART_W: f64 = 600.0;
pub const CHART_H: f64 = 160.0;

/// Bars for `days`, scaled so the largest spend fills the height; a day with images but no
/// recorded cost still shows a sliver, so activity is never invisible.
pub fn bars(days: &[DayPoint]) -> Vec<Bar> {
    let max = days.iter().map(|d| d.spent).max().unwrap_or(0).max(1) as f64;
    let slot = CHART_W / days.len().max(1) as f64;
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let mut height = d.spent.max(0) as f64 / max * CHART_H;
            if d.images > 0 {
                height = height.max(2.0);
            }
            Bar { x: i as f64 * slot + slot * 0.15, y: CHART_H - height, width: slot * 0.7, height, point: *d }
        })
        .collect()
}

/// The last `n` days up to `today`, oldest first, filled with zeros where `known` has none.
pub fn fill_days(known: &[DayPoint], today: i64, n: i64) -> Vec<DayPoint> {
    (today - n + 1..=today)
        .map(|day| known.iter().find(|d| d.day == day).copied().unwrap_or(DayPoint { day, images: 0, spent: 0 }))
        .collect()
}

/// "25 Nov" for a day number.
pub fn short_date(day: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (_, m, d) = crate::protocol::civil_from_days(day);
    format!("{d} {}", MONTHS.get(usize::try_from(m - 1).unwrap_or(0)).copied().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_filled_and_bars_scale_to_the_largest() {
        let known = [DayPoint { day: 100, images: 2, spent: 500 }, DayPoint { day: 98, images: 1, spent: 0 }];
        let days = fill_days(&known, 100, 5);
        assert_eq!(days.iter().map(|d| d.day).collect::<Vec<_>>(), vec![96, 97, 98, 99, 100]);
        let b = bars(&days);
        assert_eq!(b.len(), 5);
        assert_eq!((b[4].height, b[4].y), (CHART_H, 0.0), "the largest fills the chart");
        assert_eq!(b[2].height, 2.0, "images without cost still show");
        assert_eq!(b[0].height, 0.0);
        assert!(b.windows(2).all(|w| w[0].x < w[1].x && w[0].x + w[0].width <= w[1].x));
    }

    #[test]
    fn near_limit_and_alert() {
        let mut u = AdminUser {
            id: UserId(1),
            username: "ada".into(),
            tier: Tier::Free,
            test_account: false,
            used: [1, 40, 40],
            limits: [10, 50, 200],
            spent_month: 0,
            spend_cap: 5_000_000,
            spent_all: 0,
        };
        assert!(u.near_limit(), "40 of 50 a day");
        u.used = [1, 39, 39];
        assert!(!u.near_limit());
        u.spent_month = 4_000_000;
        assert!(u.near_limit(), "$4 of $5");
        let mut o = AdminOverview {
            totals: SpendTotals { all_time: 9, today: 1, month: 5_000_000 },
            include_exempt: false,
            alert_threshold: Some(5_000_000),
            spend_cap: Some((10_000_000, 9_999_999)),
            chat_month: ChatSpend::default(),
            users: vec![],
            days: vec![],
        };
        assert_eq!(
            o.alert().as_deref(),
            Some("Spend alert: this month's image spend, $5.00, has passed the $5.00 threshold.")
        );
        o.totals.month = 4_999_999;
        assert_eq!(o.alert(), None);
        assert_eq!(o.cap_reached(), None);
        o.spend_cap = Some((10_000_000, 10_000_000));
        assert!(o.cap_reached().is_some_and(|t| t.starts_with("Spending cap reached: this month's spend, $10.00,")));
        assert_eq!(short_date(crate::protocol::days_from_civil(2026, 11, 25)), "25 Nov");
    }
}
