//! CronJob schedules as the CronJob controller reads them: robfig/cron v3 `ParseStandard`
//! (what pkg/apis/batch/validation and pkg/controller/cronjob use). Five fields — minute,
//! hour, day of month, month, day of week — each `*` (or `?`), a value, a range `a-b`, a
//! step `/n` (`a/n` runs from a to the field's maximum), or a comma-separated list of these;
//! month and weekday names (`jan`–`dec`, `sun`–`sat`) in any case. Or a descriptor:
//! `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`,
//! `@every <duration>`. As robfig's `dayMatches`: when neither day field is a bare `*` a day
//! matching either one runs, otherwise it must match both. Times are UTC (`timeZone` other
//! than UTC is refused by the caller).

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Fields {
        minutes: u64,
        hours: u64,
        days: u64,
        months: u64,
        weekdays: u64,
        /// Either day field was `*` (or `?`) without a step: both must match.
        day_star: bool,
    },
    /// `@every`: whole seconds after the previous run (the first after the start).
    Every(u64),
}

/// The longest `@every` read: a century, so run times stay far inside an `i64` of seconds.
pub const MAX_EVERY_S: u64 = 100 * 366 * 86_400;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A field's bounds and names (names map to `min + index`).
struct Bounds {
    name: &'static str,
    min: u64,
    max: u64,
    names: &'static [&'static str],
}

const FIELDS: [Bounds; 5] = [
    Bounds {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Bounds {
        name: "day of week",
        min: 0,
        max: 6,
        names: &WEEKDAYS,
    },
];

impl Schedule {
    /// Parses `spec` as `ParseStandard` does; the error says what was expected.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
        }
        let fields = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => match spec.strip_prefix("@every ") {
                Some(d) => {
                    let d = humantime::parse_duration(d.trim())
                        .map_err(|e| format!("expected @every <duration> such as 5m: {e}"))?;
                    // robfig: rounded down to a second, at least one.
                    if d.as_secs() > MAX_EVERY_S {
                        return Err(format!(
                            "expected @every at most {MAX_EVERY_S} s (a century), found {} s",
                            d.as_secs()
                        ));
                    }
                    return Ok(Schedule::Every(d.as_secs().max(1)));
                }
                None if spec.starts_with('@') => {
                    return Err(format!("unrecognized descriptor: {spec}"));
                }
                None => spec,
            },
        };
        let parts: Vec<&str> = fields.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}: {spec}",
                parts.len()
            ));
        }
        let mut bits = [0u64; 5];
        let mut star = [false; 5];
        for (i, (part, b)) in parts.iter().zip(&FIELDS).enumerate() {
            for expr in part.split(',') {
                let (v, s) = range(expr, b)?;
                bits[i] |= v;
                star[i] |= s;
            }
        }
        Ok(Schedule::Fields {
            minutes: bits[0],
            hours: bits[1],
            days: bits[2],
            months: bits[3],
            weekdays: bits[4],
            day_star: star[2] || star[4],
        })
    }

    /// Whether the minute starting at `unix_s` (a multiple of 60) runs.
    fn matches(&self, unix_s: i64) -> bool {
        let Schedule::Fields {
            minutes,
            hours,
            days,
            months,
            weekdays,
            day_star,
        } = self
        else {
            return false;
        };
        let (y_days, secs) = (unix_s.div_euclid(86_400), unix_s.rem_euclid(86_400));
        let (_, month, day) = civil(y_days);
        // 1970-01-01 was a Thursday (4).
        let weekday = (y_days + 4).rem_euclid(7) as u64;
        let bit = |set: u64, v: u64| set & (1 << v) != 0;
        let dom = bit(*days, day);
        let dow = bit(*weekdays, weekday);
        bit(*minutes, (secs / 60 % 60) as u64)
            && bit(*hours, (secs / 3600) as u64)
            && bit(*months, month)
            && if *day_star { dom && dow } else { dom || dow }
    }

    /// Run times (Unix seconds) after `start` and at or before `end`.
    pub fn times(&self, start: i64, end: i64) -> Vec<i64> {
        let mut out = Vec::new();
        match self {
            Schedule::Every(s) => {
                let mut t = start.checked_add(*s as i64);
                while let Some(at) = t.filter(|at| *at <= end) {
                    out.push(at);
                    t = at.checked_add(*s as i64);
                }
            }
            Schedule::Fields { .. } => {
                // Minute by minute: a month is 43,200 checks.
                let mut t = start
                    .div_euclid(60)
                    .checked_mul(60)
                    .and_then(|m| m.checked_add(60));
                while let Some(at) = t.filter(|at| *at <= end) {
                    if self.matches(at) {
                        out.push(at);
                    }
                    t = at.checked_add(60);
                }
            }
        }
        out
    }
}

/// One range expression: its bits, and whether it was a bare `*`/`?` (robfig's starBit,
/// cleared by a step above 1).
fn range(expr: &str, b: &Bounds) -> Result<(u64, bool), String> {
    let bad = |m: String| Err(format!("{} field `{expr}`: {m}", b.name));
    let (range_part, step) = match expr.split_once('/') {
        None => (expr, None),
        Some((r, s)) => match s.parse::<u64>() {
            Ok(0) => return bad("step of range should be a positive number".into()),
            Ok(n) => (r, Some(n)),
            Err(_) => return bad(format!("expected a number of steps after `/`, found `{s}`")),
        },
    };
    let value = |s: &str| -> Result<u64, String> {
        if let Some(i) = b.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(b.min + i as u64);
        }
        s.parse::<u64>().map_err(|_| {
            format!(
                "{} field `{expr}`: expected a number{}, found `{s}`",
                b.name,
                if b.names.is_empty() { "" } else { " or a name" }
            )
        })
    };
    let (mut star, start, mut end) = if range_part == "*" || range_part == "?" {
        (true, b.min, b.max)
    } else {
        match range_part.split_once('-') {
            None => {
                let v = value(range_part)?;
                (false, v, v)
            }
            Some((lo, hi)) => (false, value(lo)?, value(hi)?),
        }
    };
    if let Some(n) = step {
        // "N/step" is "N-max/step".
        if !range_part.contains('-') {
            end = b.max;
        }
        if n > 1 {
            star = false;
        }
    }
    if start < b.min {
        return bad(format!(
            "beginning of range ({start}) below minimum ({})",
            b.min
        ));
    }
    if end > b.max {
        return bad(format!("end of range ({end}) above maximum ({})", b.max));
    }
    if start > end {
        return bad(format!(
            "beginning of range ({start}) beyond end of range ({end})"
        ));
    }
    let step = step.unwrap_or(1);
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |a, v| a | 1 << v);
    Ok((bits, star))
}

/// (year, month 1–12, day 1–31) of the day `days` after 1970-01-01 (Hinnant's
/// civil_from_days).
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_796_601_600;

    fn hm(t: i64) -> String {
        let s = t.rem_euclid(86_400);
        let (y, m, d) = civil(t.div_euclid(86_400));
        format!("{y}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
    }

    #[test]
    fn the_calendar_is_right() {
        assert_eq!(hm(0), "1970-01-01 00:00");
        assert_eq!(hm(MONDAY), "2026-12-07 00:00");
        assert_eq!(hm(951_782_400), "2000-02-29 00:00");
        let s = Schedule::parse("0 0 * * mon").unwrap();
        assert_eq!(s.times(MONDAY - 1, MONDAY), [MONDAY]);
    }

    /// Cases in the manner of robfig/cron's spec_test.go.
    #[test]
    fn schedules_run_when_cron_says() {
        let times = |spec: &str, hours: i64| -> Vec<String> {
            Schedule::parse(spec)
                .unwrap()
                .times(MONDAY - 1, MONDAY + hours * 3600 - 1)
                .into_iter()
                .map(hm)
                .collect()
        };
        assert_eq!(
            times("*/20 * * * *", 1),
            ["2026-12-07 00:00", "2026-12-07 00:20", "2026-12-07 00:40"]
        );
        assert_eq!(
            times("5-10/5 1 * * *", 3),
            ["2026-12-07 01:05", "2026-12-07 01:10"]
        );
        assert_eq!(times("@hourly", 3).len(), 3);
        assert_eq!(
            times("@daily", 48),
            ["2026-12-07 00:00", "2026-12-08 00:00"]
        );
        assert_eq!(times("30 2 * DEC Tue", 48), ["2026-12-08 02:30"]);
        assert_eq!(
            times("50/5 0 * * *", 1),
            ["2026-12-07 00:50", "2026-12-07 00:55"]
        );
        // Both day fields restricted: either matches (the 8th, a Tuesday; Wednesday the 9th).
        assert_eq!(
            times("0 0 8 * wed", 24 * 4),
            ["2026-12-08 00:00", "2026-12-09 00:00"]
        );
        // One of them `*`: both must match (Wednesdays only).
        assert_eq!(times("0 0 * * wed", 24 * 4), ["2026-12-09 00:00"]);
        // `*/1` keeps the star; `*/2` does not.
        assert_eq!(
            times("0 0 */2 * wed", 24 * 4),
            ["2026-12-07 00:00", "2026-12-09 00:00"]
        );
        assert_eq!(
            Schedule::parse("@every 90m").unwrap().times(0, 3 * 5400),
            [5400, 10_800, 16_200]
        );
        // The end of time ends the loops.
        let hourly = Schedule::parse("@hourly").unwrap();
        assert!(hourly.times(i64::MAX - 7300, i64::MAX).len() <= 3);
        let every = Schedule::parse("@every 1h").unwrap();
        assert!(every.times(i64::MAX - 7300, i64::MAX).len() <= 3);
    }

    #[test]
    fn bad_schedules_say_why() {
        for (spec, says) in [
            ("* * * *", "exactly 5 fields"),
            ("60 * * * *", "end of range (60) above maximum (59)"),
            ("* * 0 * *", "below minimum (1)"),
            ("5-1 * * * *", "beyond end of range"),
            ("*/0 * * * *", "positive number"),
            ("* * * foo *", "expected a number or a name"),
            ("@fortnightly", "unrecognized descriptor"),
            ("TZ=UTC 0 * * * *", "timeZone field"),
            ("@every soon", "@every <duration>"),
            ("@every 300000000000y", "at most"),
        ] {
            let e = Schedule::parse(spec).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}
