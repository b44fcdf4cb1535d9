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
            out.push(cx.error(CODE, pointer, msg).with_help(help));
        }
    }
}
