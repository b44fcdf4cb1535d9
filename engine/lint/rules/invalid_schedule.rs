//! LL012 invalid-schedule: a schedule trigger's cron does not parse (or can never fire) or its
//! timezone is not an IANA name.

use super::{Rule, rule_code};
use crate::diag::Diagnostic;
use crate::lint::FlowCx;

rule_code!(
    "LL012",
    "invalid-schedule",
    "a schedule's cron or timezone is invalid"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }

    fn check(&self, cx: &FlowCx<'_>, out: &mut Vec<Diagnostic>) {
        let Some(s) = &cx.flow.trigger.schedule else {
            return;
        };
        match s.timezone.parse::<chrono_tz::Tz>() {
            Ok(tz) => check_cron(cx, &s.cron, tz, out),
            Err(_) => {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                let d = cx.error(
                    CODE,
                    "/trigger/schedule/timezone",
                    format!("unknown timezone `{}`", s.timezone),
                );
                out.push(match crate::lint::context::closest(&s.timezone, names) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help("use an IANA name such as `America/Los_Angeles` or `UTC`"),
                });
                check_cron(cx, &s.cron, chrono_tz::UTC, out);
            }
        }
    }
}

fn check_cron(cx: &FlowCx<'_>, cron: &str, tz: chrono_tz::Tz, out: &mut Vec<Diagnostic>) {
    let pointer = "/trigger/schedule/cron";
    let help = "six fields with seconds: `sec min hour day-of-month month day-of-week`, e.g. `0 30 2 * * *`";
    match croner::parser::CronParser::new().parse(cron) {
        Ok(parsed) => {
            let now = chrono::Utc::now().with_timezone(&tz);
            if parsed.find_next_occurrence(&now, false).is_err() {
                out.push(
                    cx.error(CODE, pointer, format!("cron `{cron}` never fires"))
                        .with_help(help),
                );
            }
        }
        Err(e) => {
            let msg = format!(
                "invalid cron `{cron}`: {}",
                e.to_string().to_lowercase().trim_end_matches('.')
            );
            let d = cx.error(CODE, pointer, msg);
            out.push(match misspelt_name(cron) {
                Some((typo, near)) => d.with_help(format!(
                    "`{typo}`: did you mean `{near}`? (days are SUN-SAT, months JAN-DEC)"
                )),
                None => d.with_help(help),
            });
        }
    }
}

const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// A word in the month or day-of-week field that is not a name croner knows, and the name it
/// is closest to (`MOM` -> `MON`, `JNA` -> `JAN`).
fn misspelt_name(cron: &str) -> Option<(String, &'static str)> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let (month, day) = match fields.len() {
        5 => (3, 4),
        6 | 7 => (4, 5),
        _ => return None,
    };
    [(month, MONTHS), (day, DAYS)]
        .into_iter()
        .flat_map(|(i, names)| {
            fields[i]
                .split([',', '-', '/', '#'])
                .map(move |word| (word, names))
        })
        .filter(|(word, names)| {
            word.chars().any(|c| c.is_ascii_alphabetic())
                && !names.iter().any(|n| n.eq_ignore_ascii_case(word))
                && !["L", "W", "LW", "?"]
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(word))
        })
        .find_map(|(word, names)| nearest_name(word, names).map(|n| (word.to_string(), n)))
}

/// The name `word` spells out (`thurs`, `monday`) or misses by one letter or one swap (`MOM`,
/// `JNA`): three-letter names are too short for a similarity score.
fn nearest_name(word: &str, names: &[&'static str]) -> Option<&'static str> {
    let word = word.to_ascii_uppercase();
    names
        .iter()
        .find(|n| word.starts_with(**n))
        .or_else(|| names.iter().find(|n| strsim::osa_distance(&word, n) <= 1))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::misspelt_name;

    #[test]
    fn a_misspelt_day_or_month_gets_the_closest_name() {
        assert_eq!(
            misspelt_name("0 30 2 * * MOM-FRI"),
            Some(("MOM".into(), "MON"))
        );
        assert_eq!(misspelt_name("0 30 2 * JNA *"), Some(("JNA".into(), "JAN")));
        assert_eq!(
            misspelt_name("30 2 * * tue,thurs"),
            Some(("thurs".into(), "THU"))
        );
        assert_eq!(misspelt_name("0 30 2 * * MON-FRI"), None);
        assert_eq!(misspelt_name("0 30 2 * * XYZ"), None);
    }
}
