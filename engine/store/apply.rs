//! One hot-path write (`Write`) taken apart into the statements every backend provides
//! (`RunWrites`), so the order they run in (a deferred call outcome first, the acceptance
//! before the run's first write) is written once for SQLite and PostgreSQL.

use super::types::*;
use serde_json::Value;

/// A backend's statements for a run's writes, inside the caller's transaction.
pub(crate) trait RunWrites {
    /// Accept `event` and claim its run for `worker` unless an earlier run with its ordering
    /// key is unfinished; the claimed run carries the body only `with_body`.
    fn admit(
        &mut self,
        event: &NewEvent,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        with_body: bool,
    ) -> Result<AcceptedNow, StoreError>;

    /// The run `run` was inserted running by this transaction: its writes need no check.
    fn admitted(&mut self, _run: i64) {}

    fn begin_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        ledger_key: Option<&str>,
    ) -> Result<Option<Value>, StoreError>;

    fn record_step(&mut self, entry: &JournalEntry, run: i64) -> Result<(), StoreError>;

    fn end_call(
        &mut self,
        entry: &JournalEntry,
        run: i64,
        flow: &str,
        remember: Option<&str>,
    ) -> Result<(), StoreError>;

    fn finish(&mut self, run: i64, end: &RunEnd, now_ms: i64) -> Result<(), StoreError>;
}

/// One hot-path write, with the call outcome deferred to it, for the run `run` when it is
/// given (the first write of a run accepted in the same transaction, whose entries carry 0).
pub(crate) fn apply_as<W: RunWrites>(
    w: &mut W,
    write: &Write,
    run: Option<i64>,
) -> Result<Written, StoreError> {
    match write {
        Write::AcceptNow {
            event,
            worker,
            now_ms,
            lease_ms,
            then,
        } => {
            let Some(then) = then else {
                return w
                    .admit(event, worker, *now_ms, *lease_ms, true)
                    .map(Written::Accepted);
            };
            then.check_first_write()?;
            let accepted = w.admit(event, worker, *now_ms, *lease_ms, false)?;
            Ok(match &accepted {
                AcceptedNow::Running(c) => {
                    w.admitted(c.run.id);
                    let first = apply_as(w, then, Some(c.run.id))?;
                    Written::AcceptedThen(accepted, Box::new(first))
                }
                _ => Written::Accepted(accepted),
            })
        }
        Write::BeginCall {
            prior,
            entry,
            flow,
            ledger_key,
        } => {
            end_deferred(w, prior.as_ref(), run)?;
            let run = run.unwrap_or(entry.run);
            w.begin_call(entry, run, flow, ledger_key.as_deref())
                .map(Written::Begun)
        }
        Write::RecordStep { prior, entry } => {
            end_deferred(w, prior.as_ref(), run)?;
            w.record_step(entry, run.unwrap_or(entry.run))
                .map(|()| Written::Done)
        }
        Write::Finish {
            prior,
            run: of,
            end,
            now_ms,
        } => {
            end_deferred(w, prior.as_ref(), run)?;
            w.finish(run.unwrap_or(*of), end, *now_ms)
                .map(|()| Written::Done)
        }
    }
}

/// A deferred call outcome (`CallEnd`), if any, before the write it was deferred to.
fn end_deferred<W: RunWrites>(
    w: &mut W,
    prior: Option<&CallEnd>,
    run: Option<i64>,
) -> Result<(), StoreError> {
    match prior {
        Some(p) => w.end_call(
            &p.entry,
            run.unwrap_or(p.entry.run),
            &p.flow,
            p.remember.as_deref(),
        ),
        None => Ok(()),
    }
}
