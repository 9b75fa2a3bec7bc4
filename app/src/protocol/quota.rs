//! What a user may still generate, as the server sends it and the composer shows it.
//!
//! Windows are calendar windows in UTC (this hour, today, this month), so "more at 00:00 UTC"
//! is the same promise for every user and every instance. The server counts in Redis (or in
//! process) with the store's clock; this module only carries the numbers and turns them into
//! sentences, so the text a tab shows and the text a refusal says come from one place.

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A plan: what its users may generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Free,
    Premium,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Premium => "premium",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "free" => Some(Self::Free),
            "premium" => Some(Self::Premium),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Premium => "Premium",
        }
    }
}

/// A counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Hour,
    Day,
    Month,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Hour, Window::Day, Window::Month];

    /// "hourly", "daily", "monthly".
    pub fn adjective(self) -> &'static str {
        match self {
            Self::Hour => "hourly",
            Self::Day => "daily",
            Self::Month => "monthly",
        }
    }

    /// "this hour's", "today's", "this month's".
    pub fn possessive(self) -> &'static str {
        match self {
            Self::Hour => "this hour's",
            Self::Day => "today's",
            Self::Month => "this month's",
        }
    }

    /// The window's number at `ms` (Unix ms, UTC): hours or days since the epoch, or
    /// `year * 12 + month - 1`. Two instants share a window exactly when their ids match.
    pub fn id_at(self, ms: i64) -> i64 {
        match self {
            Self::Hour => ms.div_euclid(HOUR_MS),
            Self::Day => ms.div_euclid(DAY_MS),
            Self::Month => {
                let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
                y * 12 + m - 1
            }
        }
    }

    /// Unix ms at which window `id` starts.
    pub fn start_of(self, id: i64) -> i64 {
        match self {
            Self::Hour => id * HOUR_MS,
            Self::Day => id * DAY_MS,
            Self::Month => days_from_civil(id.div_euclid(12), id.rem_euclid(12) + 1, 1) * DAY_MS,
        }
    }

    /// Unix ms at which window `id` ends (the next one starts).
    pub fn end_of(self, id: i64) -> i64 {
        self.start_of(id + 1)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1–12, day 1–31) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// When `window` next resets, said plainly: "00:00 UTC", "15:00 UTC", "1 December".
pub fn reset_phrase(window: Window, resets_at_ms: i64) -> String {
    match window {
        Window::Hour | Window::Day => {
            let minutes = resets_at_ms.rem_euclid(DAY_MS) / 60_000;
            format!("at {:02}:{:02} UTC", minutes / 60, minutes % 60)
        }
        Window::Month => {
            let (_, m, d) = civil_from_days(resets_at_ms.div_euclid(DAY_MS));
            let month = MONTHS.get(usize::try_from(m - 1).unwrap_or(0)).copied().unwrap_or("January");
            format!("on {d} {month}")
        }
    }
}

/// "28 seconds", "1 minute 5 seconds".
pub fn wait_phrase(ms: i64) -> String {
    let secs = (ms.max(0) + 999) / 1000;
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if secs < 60 {
        plural(secs.max(1), "second")
    } else if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        format!("{} {}", plural(secs / 60, "minute"), plural(secs % 60, "second"))
    }
}

/// Use of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowUse {
    pub window: Window,
    pub used: u32,
    pub limit: u32,
    /// Unix ms (UTC) when this window resets.
    pub resets_at: i64,
}

impl WindowUse {
    pub fn left(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// What a user has left, sent at connect and whenever it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaView {
    pub tier: Tier,
    /// Hour, day and month, in that order.
    pub windows: Vec<WindowUse>,
    /// Spent this month and the monthly cap, in millionths of a US dollar.
    pub spent_micros: i64,
    pub spend_cap_micros: i64,
    /// How long until the cooldown after the last generation ends, when it was sent (0: none).
    pub cooldown_ms: i64,
    pub running: u32,
    pub max_running: u32,
}

/// Share of a window at which the user is warned.
pub const NOTICE_AT_PERCENT: u32 = 80;

impl QuotaView {
    /// The window with the fewest generations left (the longest one on a tie: it waits longest).
    pub fn tightest(&self) -> Option<&WindowUse> {
        self.windows.iter().rev().min_by_key(|w| w.left())
    }

    /// The line under the composer: "3 of 10 daily generations left".
    pub fn summary(&self) -> String {
        match self.tightest() {
            Some(w) => format!("{} of {} {} generations left", w.left(), w.limit, w.window.adjective()),
            None => String::new(),
        }
    }

    /// A warning once a window is at least 80 % used (and not yet exhausted), or the monthly
    /// budget is.
    pub fn notice(&self) -> Option<String> {
        let near = |used: u64, limit: u64| limit > 0 && used * 100 >= limit * u64::from(NOTICE_AT_PERCENT);
        if let Some(w) = self.windows.iter().find(|w| w.left() > 0 && near(w.used.into(), w.limit.into())) {
            return Some(format!(
                "You have used {} of {} {} images; more {}.",
                w.used,
                w.limit,
                w.window.adjective(),
                reset_phrase(w.window, w.resets_at)
            ));
        }
        let (spent, cap) = (self.spent_micros.max(0) as u64, self.spend_cap_micros.max(0) as u64);
        if spent < cap && near(spent, cap) {
            return Some(format!(
                "You have used {} of your {} monthly budget.",
                dollars(spent as i64),
                dollars(cap as i64)
            ));
        }
        None
    }
}

/// "$4.20" from millionths of a dollar.
pub fn dollars(micros: i64) -> String {
    let cents = (micros + 5_000).div_euclid(10_000);
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ids_follow_the_utc_calendar() {
        // 2026-11-25 11:50:00 UTC
        let t = days_from_civil(2026, 11, 25) * DAY_MS + 11 * HOUR_MS + 50 * 60_000;
        assert_eq!(civil_from_days(t / DAY_MS), (2026, 11, 25));
        assert_eq!(Window::Month.id_at(t), 2026 * 12 + 10);
        assert_eq!(Window::Hour.end_of(Window::Hour.id_at(t)), t + 10 * 60_000);
        assert_eq!(Window::Day.end_of(Window::Day.id_at(t)), days_from_civil(2026, 11, 26) * DAY_MS);
        assert_eq!(Window::Month.end_of(Window::Month.id_at(t)), days_from_civil(2026, 12, 1) * DAY_MS);
        // December rolls into January of the next year.
        let dec = days_from_civil(2026, 12, 31) * DAY_MS;
        assert_eq!(Window::Month.end_of(Window::Month.id_at(dec)), days_from_civil(2027, 1, 1) * DAY_MS);
    }

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 29)), (2028, 2, 29));
    }

    fn view(used: [u32; 3]) -> QuotaView {
        let limits = [10, 50, 200];
        QuotaView {
            tier: Tier::Free,
            windows: Window::ALL
                .iter()
                .zip(used.iter().zip(limits))
                .map(|(&window, (&used, limit))| WindowUse { window, used, limit, resets_at: 0 })
                .collect(),
            spent_micros: 0,
            spend_cap_micros: 5_000_000,
            cooldown_ms: 0,
            running: 0,
            max_running: 1,
        }
    }

    #[test]
    fn the_summary_names_the_window_with_least_left() {
        assert_eq!(view([2, 2, 2]).summary(), "8 of 10 hourly generations left");
        assert_eq!(view([0, 47, 47]).summary(), "3 of 50 daily generations left");
        // A tie goes to the longer window.
        assert_eq!(view([0, 40, 190]).summary(), "10 of 200 monthly generations left");
    }

    #[test]
    fn the_notice_starts_at_eighty_percent() {
        assert_eq!(view([7, 7, 7]).notice(), None);
        let notice = view([8, 8, 8]).notice().unwrap_or_default();
        assert!(notice.starts_with("You have used 8 of 10 hourly images; more at 00:00 UTC"), "{notice}");
        // Exhausted windows are the refusal's business, not the notice's.
        assert_eq!(view([10, 10, 10]).notice(), None);
        let mut spent = view([0, 0, 0]);
        spent.spent_micros = 4_200_000;
        assert_eq!(spent.notice().as_deref(), Some("You have used $4.20 of your $5.00 monthly budget."));
    }

    #[test]
    fn waits_and_resets_read_naturally() {
        assert_eq!(wait_phrase(27_200), "28 seconds");
        assert_eq!(wait_phrase(1), "1 second");
        assert_eq!(wait_phrase(65_000), "1 minute 5 seconds");
        assert_eq!(wait_phrase(120_000), "2 minutes");
        assert_eq!(reset_phrase(Window::Day, days_from_civil(2026, 11, 26) * DAY_MS), "at 00:00 UTC");
        assert_eq!(reset_phrase(Window::Hour, 15 * HOUR_MS), "at 15:00 UTC");
        assert_eq!(reset_phrase(Window::Month, days_from_civil(2026, 12, 1) * DAY_MS), "on 1 December");
        assert_eq!(dollars(4_995_000), "$5.00");
        assert_eq!(dollars(40_000), "$0.04");
    }
}
