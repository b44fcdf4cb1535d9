//! Dates and times. PayTrace reports local Pacific time without an offset
//! (`4/10/2015 4:06:30 PM`) and dates as `MM/DD/YYYY`; Sage Pro takes plain `YYYY-MM-DD`.
//! ISO 8601 timestamps must carry an offset: a time without a zone is ambiguous money-wise.

use super::{HelperEnv, fail};
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{America::Los_Angeles, Tz};
use rhai::{Engine, EvalAltResult};
use std::sync::Arc;

type R<T> = Result<T, Box<EvalAltResult>>;

/// A parsed date or instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed {
    Date(NaiveDate),
    Instant(DateTime<FixedOffset>),
}

/// Read the formats flows meet: RFC 3339 / ISO 8601 with offset, PayTrace
/// `M/D/YYYY h:mm:ss AM|PM` (Pacific), `MM/DD/YYYY`, `YYYY-MM-DD`.
pub fn parse_time(text: &str) -> Result<Parsed, String> {
    let t = text.trim();
    // PayTrace text (`4/10/2015 4:06:30 PM`, `04/10/2015`) is the common case: try it first.
    if t.contains('/') {
        for fmt in [
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %I:%M %p",
            "%m/%d/%Y %H:%M:%S",
        ] {
            if let Ok(local) = NaiveDateTime::parse_from_str(t, fmt) {
                return pacific(local).map(Parsed::Instant);
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%m/%d/%Y") {
            return Ok(Parsed::Date(d));
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(Parsed::Instant(dt));
    }
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(Parsed::Instant(dt));
    }
    for fmt in [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(t, fmt) {
            return pacific(local).map(Parsed::Instant);
        }
    }
    for fmt in ["%m/%d/%Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Ok(Parsed::Date(d));
        }
    }
    if NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
        return Err(format!(
            "timestamp `{t}` has no UTC offset; add one (`Z`, `-07:00`)"
        ));
    }
    Err(format!(
        "`{t}` is not a date or time this engine reads (ISO 8601 with offset, `M/D/YYYY h:mm:ss AM`, `MM/DD/YYYY`, `YYYY-MM-DD`)"
    ))
}

/// Pacific local time to an instant. In the repeated DST hour the earlier instant is taken; a
/// time in the skipped hour moves one hour forward.
fn pacific(local: NaiveDateTime) -> Result<DateTime<FixedOffset>, String> {
    let resolved = match Los_Angeles.from_local_datetime(&local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(early, _) => early,
        LocalResult::None => match Los_Angeles
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
        {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
            LocalResult::None => return Err(format!("`{local}` does not exist in Pacific time")),
        },
    };
    Ok(resolved.fixed_offset())
}

/// `YYYY-MM-DD` without going through a format string (this runs on every event).
fn ymd(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// Fast path for PayTrace local text (`4/10/2015 4:06:30 PM`, `04/10/2015`): its Pacific date
/// is the date as written. `None` when the text is anything else (the full parser decides).
fn paytrace_local_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let (date, time) = t.split_once(' ').unwrap_or((t, ""));
    let mut parts = date.split('/');
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    let y: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    let time = time.trim();
    if !time.is_empty()
        && chrono::NaiveTime::parse_from_str(time, "%I:%M:%S %p").is_err()
        && chrono::NaiveTime::parse_from_str(time, "%I:%M %p").is_err()
        && chrono::NaiveTime::parse_from_str(time, "%H:%M:%S").is_err()
    {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

fn date_in(p: Parsed, tz: Option<Tz>) -> NaiveDate {
    match (p, tz) {
        (Parsed::Date(d), _) => d,
        (Parsed::Instant(t), Some(tz)) => t.with_timezone(&tz).date_naive(),
        (Parsed::Instant(t), None) => t.date_naive(),
    }
}

fn parse(text: &str) -> R<Parsed> {
    parse_time(text).or_else(fail)
}

fn tz(name: &str) -> R<Tz> {
    name.parse::<Tz>()
        .or_else(|_| fail(format!("unknown timezone `{name}`")))
}

fn format_with(p: Parsed, fmt: &str) -> R<String> {
    let items: Vec<Item<'_>> = StrftimeItems::new(fmt).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return fail(format!("format_date(): `{fmt}` is not a valid format"));
    }
    let out = match p {
        Parsed::Date(d) => {
            let mut s = String::new();
            use std::fmt::Write;
            if write!(s, "{}", d.format_with_items(items.iter())).is_err() {
                return fail(format!(
                    "format_date(): `{fmt}` needs a time, but the value is a date"
                ));
            }
            s
        }
        Parsed::Instant(t) => t.format_with_items(items.iter()).to_string(),
    };
    Ok(out)
}

/// `pacific_date(text)`: the date in Los Angeles (a PayTrace local time is taken as it is).
pub fn pacific_date(s: &str) -> R<String> {
    if let Some(d) = paytrace_local_date(s) {
        return Ok(ymd(d));
    }
    Ok(ymd(date_in(parse(s)?, Some(Los_Angeles))))
}

/// `sage_date(text)`: the date as Sage Pro writes it (`YYYY-MM-DD`, UTC for instants).
pub fn sage_date(s: &str) -> R<String> {
    Ok(date_in(parse(s)?, None).format("%Y-%m-%d").to_string())
}

pub fn register(engine: &mut Engine, env: &Arc<HelperEnv>) {
    // A map or number where a date belongs (`event.created` instead of `event.created.at`):
    // say so, instead of Rhai's "function not found".
    for name in ["pacific_date", "sage_date", "paytrace_date", "to_iso"] {
        engine.register_fn(name, move |v: rhai::Dynamic| -> R<String> {
            fail(format!(
                "{name}(): expected a date or time as text, got a `{}`",
                v.type_name()
            ))
        });
    }
    engine.register_fn("pacific_date", pacific_date);
    engine.register_fn("sage_date", sage_date);
    engine.register_fn("paytrace_date", |s: &str| -> R<String> {
        Ok(date_in(parse(s)?, Some(Los_Angeles))
            .format("%m/%d/%Y")
            .to_string())
    });
    engine.register_fn("to_iso", |s: &str| -> R<String> {
        Ok(match parse(s)? {
            Parsed::Date(d) => d.format("%Y-%m-%d").to_string(),
            Parsed::Instant(t) => t.to_rfc3339(),
        })
    });
    engine.register_fn("format_date", |s: &str, fmt: &str| -> R<String> {
        format_with(parse(s)?, fmt)
    });
    let e = Arc::clone(env);
    engine.register_fn("today", move |zone: &str| -> R<String> {
        Ok((e.clock)()
            .with_timezone(&tz(zone)?)
            .format("%Y-%m-%d")
            .to_string())
    });
    let e = Arc::clone(env);
    engine.register_fn("now", move || -> String {
        (e.clock)().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    engine.register_fn("days_between", |a: &str, b: &str| -> R<rhai::INT> {
        let (a, b) = (date_in(parse(a)?, None), date_in(parse(b)?, None));
        Ok((b - a).num_days())
    });
    engine.register_fn("add_days", |d: &str, n: rhai::INT| -> R<String> {
        let day = date_in(parse(d)?, None);
        let moved = Some(n)
            .filter(|n| n.abs() <= 36_600)
            .and_then(|n| day.checked_add_signed(chrono::Duration::days(n)));
        match moved {
            Some(m) => Ok(ymd(m)),
            None => fail(format!("add_days(): {n} days from {d} is out of range")),
        }
    });
    let _: fn() -> DateTime<Utc> = Utc::now; // the clock type helpers agree on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paytrace_local_time_is_pacific() {
        let Parsed::Instant(t) = parse_time("4/10/2015 4:06:30 PM").unwrap() else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2015-04-10T16:06:30-07:00");
        // Late evening Pacific is already the next day in UTC; the ERP date stays Pacific.
        let p = parse_time("12/31/2025 11:30:00 PM").unwrap();
        assert_eq!(date_in(p, Some(Los_Angeles)).to_string(), "2025-12-31");
        let p = parse_time("2026-01-01T05:00:00Z").unwrap();
        assert_eq!(date_in(p, Some(Los_Angeles)).to_string(), "2025-12-31");
    }

    #[test]
    fn add_days_crosses_months_and_refuses_silly_spans() {
        let mut engine = crate::script::engine();
        register(&mut engine, &Arc::new(HelperEnv::default()));
        let d: String = engine.eval(r#"add_days("2026-02-27", 3)"#).unwrap();
        assert_eq!(d, "2026-03-02");
        let d: String = engine.eval(r#"add_days("2026-01-15", -30)"#).unwrap();
        assert_eq!(d, "2025-12-16");
        assert!(
            engine
                .eval::<String>(r#"add_days("2026-01-15", 99999999)"#)
                .is_err()
        );
    }

    #[test]
    fn dst_edges_resolve() {
        // 2026-03-08 02:30 does not exist in Pacific time; 2026-11-01 01:30 happens twice.
        let Parsed::Instant(t) = parse_time("3/8/2026 2:30:00 AM").unwrap() else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2026-03-08T03:30:00-07:00");
        let Parsed::Instant(t) = parse_time("11/1/2026 1:30:00 AM").unwrap() else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2026-11-01T01:30:00-07:00");
    }

    #[test]
    fn refuses_ambiguous_and_garbage() {
        assert!(
            parse_time("2026-01-01T05:00:00")
                .unwrap_err()
                .contains("no UTC offset")
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            parse_time("04/10/2015").unwrap(),
            Parsed::Date(NaiveDate::from_ymd_opt(2015, 4, 10).unwrap())
        );
        assert!(format_with(parse_time("04/10/2015").unwrap(), "%Q").is_err());
    }
}
