//! What each tier may do, and the sentences a refusal says: pure arithmetic, tested without
//! a gate. The gate counts; this module decides what the counts mean to a person.

use std::time::Duration;

use app::protocol::{dollars, reset_phrase, wait_phrase, QuotaView, Tier, Window, WindowUse};

use super::{Usage, Verdict};

/// One tier's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_running: u32,
    pub hourly: u32,
    pub daily: u32,
    pub monthly: u32,
    /// Pause required after a generation starts before the next may start.
    pub cooldown: Duration,
    /// Monthly spend cap, in millionths of a US dollar (images and chat model together).
    pub spend_cap_micros: i64,
    /// Chat model tokens (in and out) a user may use per hour and per day.
    pub tokens_hour: u64,
    pub tokens_day: u64,
}

impl Limits {
    pub const FREE: Limits = Limits {
        max_running: 1,
        hourly: 10,
        daily: 50,
        monthly: 200,
        cooldown: Duration::from_secs(30),
        spend_cap_micros: 5_000_000,
        tokens_hour: 20_000,
        tokens_day: 100_000,
    };
    pub const PREMIUM: Limits = Limits {
        max_running: 2,
        hourly: 50,
        daily: 100,
        monthly: 1_000,
        cooldown: Duration::from_secs(5),
        spend_cap_micros: 50_000_000,
        tokens_hour: 100_000,
        tokens_day: 1_000_000,
    };

    pub fn of(&self, window: Window) -> u32 {
        match window {
            Window::Hour => self.hourly,
            Window::Day => self.daily,
            Window::Month => self.monthly,
        }
    }

    /// Reads `running=1,hour=10,day=50,month=200,cooldown=30,spend=5,tokens_hour=20000,
    /// tokens_day=100000` (cooldown in seconds, spend in dollars, tokens of the chat model);
    /// names left out keep `self`'s values.
    pub fn with_spec(mut self, spec: &str) -> Result<Self, String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}` is not name=value"))?;
            let value = value.trim();
            let count = || value.parse::<u32>().map_err(|_| format!("{name} must be a whole number, not `{value}`"));
            match name.trim() {
                "running" => self.max_running = count()?.max(1),
                "hour" => self.hourly = count()?,
                "day" => self.daily = count()?,
                "month" => self.monthly = count()?,
                "tokens_hour" | "tokens_day" => {
                    let tokens =
                        value.parse::<u64>().map_err(|_| format!("{name} must be a whole number, not `{value}`"))?;
                    if name.trim() == "tokens_hour" {
                        self.tokens_hour = tokens;
                    } else {
                        self.tokens_day = tokens;
                    }
                }
                "cooldown" => self.cooldown = Duration::from_secs(count()?.into()),
                "cooldown_ms" => self.cooldown = Duration::from_millis(count()?.into()),
                "spend" => {
                    let d: f64 = value
                        .parse()
                        .ok()
                        .filter(|d: &f64| d.is_finite() && *d >= 0.0)
                        .ok_or_else(|| format!("spend must be dollars, not `{value}`"))?;
                    self.spend_cap_micros = (d * 1e6).round() as i64;
                }
                other => {
                    return Err(format!(
                        "unknown limit `{other}` (running, hour, day, month, cooldown, spend, tokens_hour, tokens_day)"
                    ))
                }
            }
        }
        Ok(self)
    }
}

/// The rules of every tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    pub free: Limits,
    pub premium: Limits,
}

impl Default for Policies {
    fn default() -> Self {
        Self { free: Limits::FREE, premium: Limits::PREMIUM }
    }
}

impl Policies {
    pub fn of(&self, tier: Tier) -> &Limits {
        match tier {
            Tier::Free => &self.free,
            Tier::Premium => &self.premium,
        }
    }
}

/// The numbers a tab shows, from the gate's counts.
pub fn quota_view(tier: Tier, limits: &Limits, usage: &Usage) -> QuotaView {
    QuotaView {
        tier,
        windows: Window::ALL
            .iter()
            .map(|&window| WindowUse {
                window,
                used: usage.used(window),
                limit: limits.of(window),
                resets_at: window.end_of(usage.ids.of(window)),
            })
            .collect(),
        spent_micros: usage.spent_micros,
        spend_cap_micros: limits.spend_cap_micros,
        cooldown_ms: usage.cooldown_ms,
        running: usage.running,
        max_running: limits.max_running,
    }
}

/// What the user reads when the gate refuses: why, and when it will work again.
/// `images` is how many the refused request asked for: a window with room for fewer says so.
pub fn refusal_text(verdict: Verdict, usage: &Usage, tier: Tier, policies: &Policies, images: u32) -> String {
    let limits = policies.of(tier);
    let month_end = Window::Month.end_of(usage.ids.month);
    match verdict {
        Verdict::Admitted => String::new(),
        Verdict::Busy if limits.max_running > 1 => {
            format!("You already have {} images generating. Wait for one to finish, or cancel it.", limits.max_running)
        }
        Verdict::Busy => "An image is already being generated. Wait for it to finish, or cancel it.".into(),
        Verdict::Cooldown => format!("Please wait {} before the next image.", wait_phrase(usage.cooldown_ms)),
        Verdict::Window(window) if images > 1 && usage.used(window) < limits.of(window) => {
            let left = limits.of(window) - usage.used(window);
            format!(
                "You asked for {images} images, and {} {left} {} left {}; ask for fewer, or wait: more {}.",
                if left == 1 { "there is" } else { "there are" },
                if left == 1 { "image" } else { "images" },
                match window {
                    Window::Hour => "this hour",
                    Window::Day => "today",
                    Window::Month => "this month",
                },
                reset_phrase(window, window.end_of(usage.ids.of(window)))
            )
        }
        Verdict::Window(window) => {
            let limit = limits.of(window);
            let mut text = format!(
                "You have used {} {limit} {}; more {}.",
                window.possessive(),
                if limit == 1 { "image" } else { "images" },
                reset_phrase(window, window.end_of(usage.ids.of(window)))
            );
            let premium = policies.premium.of(window);
            if tier == Tier::Free && premium > limits.of(window) {
                let per = match window {
                    Window::Hour => "an hour",
                    Window::Day => "a day",
                    Window::Month => "a month",
                };
                text.push_str(&format!(" Upgrade to Premium for {premium} images {per}."));
            }
            text
        }
        Verdict::Spend => format!(
            "You have reached this month's {} spending budget; more {}.",
            dollars(limits.spend_cap_micros),
            reset_phrase(Window::Month, month_end)
        ),
    }
}

/// The window, if any, that this admission took to 80 % of its limit (the moment to warn).
pub fn crossed_notice(limits: &Limits, usage: &Usage) -> Option<Window> {
    let at = |used: u32, limit: u32| u64::from(used) * 100 >= u64::from(limit) * 80;
    Window::ALL.into_iter().find(|&w| {
        let (used, limit) = (usage.used(w), limits.of(w));
        limit > 0 && used > 0 && at(used, limit) && !at(used - 1, limit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::WindowIds;

    fn usage(used: [u32; 3], cooldown_ms: i64) -> Usage {
        // 2026-11-25 11:50 UTC
        let now = 1_795_607_400_000;
        Usage { now_ms: now, ids: WindowIds::at(now), used, spent_micros: 0, cooldown_ms, running: 0 }
    }

    #[test]
    fn specs_override_only_what_they_name() {
        let l = Limits::FREE.with_spec("hour=3, cooldown=2,spend=0.5").unwrap_or(Limits::FREE);
        assert_eq!((l.hourly, l.daily, l.cooldown, l.spend_cap_micros), (3, 50, Duration::from_secs(2), 500_000));
        assert!(Limits::FREE.with_spec("hours=3").is_err());
        assert!(Limits::FREE.with_spec("hour=-1").is_err());
        assert!(Limits::FREE.with_spec("spend=lots").is_err());
        let t = Limits::FREE.with_spec("tokens_hour=500,tokens_day=9000").unwrap_or(Limits::FREE);
        assert_eq!((t.tokens_hour, t.tokens_day, t.hourly), (500, 9_000, 10));
        assert!(Limits::FREE.with_spec("tokens_day=many").is_err());
    }

    #[test]
    fn refusals_say_why_and_when() {
        let p = Policies::default();
        let text = |v, u: &Usage, t| refusal_text(v, u, t, &p, 1);
        assert_eq!(
            text(Verdict::Cooldown, &usage([1, 1, 1], 27_300), Tier::Free),
            "Please wait 28 seconds before the next image."
        );
        assert_eq!(
            text(Verdict::Window(Window::Day), &usage([5, 50, 50], 0), Tier::Free),
            "You have used today's 50 images; more at 00:00 UTC. Upgrade to Premium for 100 images a day."
        );
        assert_eq!(
            text(Verdict::Window(Window::Hour), &usage([50, 50, 50], 0), Tier::Premium),
            "You have used this hour's 50 images; more at 12:00 UTC."
        );
        assert_eq!(
            text(Verdict::Spend, &usage([1, 1, 1], 0), Tier::Free),
            "You have reached this month's $5.00 spending budget; more on 1 December."
        );
    }

    #[test]
    fn the_notice_fires_once_at_eighty_percent() {
        let l = Limits::FREE;
        assert_eq!(crossed_notice(&l, &usage([7, 7, 7], 0)), None);
        assert_eq!(crossed_notice(&l, &usage([8, 8, 8], 0)), Some(Window::Hour));
        assert_eq!(crossed_notice(&l, &usage([9, 9, 9], 0)), None);
        assert_eq!(crossed_notice(&l, &usage([1, 40, 40], 0)), Some(Window::Day));
    }

    #[test]
    fn the_view_matches_the_counts() {
        let u = usage([2, 7, 30], 0);
        let v = quota_view(Tier::Free, &Limits::FREE, &u);
        assert_eq!(v.summary(), "8 of 10 hourly generations left");
        assert_eq!(v.windows[1].resets_at, 1_795_651_200_000);
    }
}
