//! Run completions for callers that wait: a webhook with `respond: completed` answers once its
//! run has ended. The worker reports every finished run; a waiter registered for that run gets
//! its outcome. A run can end before its waiter registers (a fast flow), so the last outcomes
//! are kept for a while in a bounded ring.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// How a run ended, as a waiting caller is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `completed`, `skipped`, `failed`, `dead_lettered` or `waiting` (retrying later).
    pub status: &'static str,
    pub step: Option<String>,
    pub reason: Option<String>,
}

/// Outcomes kept for waiters that register after the run ended.
const KEPT: usize = 4096;

#[derive(Default)]
struct Inner {
    waiters: HashMap<i64, oneshot::Sender<Outcome>>,
    recent: HashMap<i64, Outcome>,
    order: VecDeque<i64>,
}

#[derive(Default)]
pub struct Completions {
    inner: Mutex<Inner>,
}

impl Completions {
    /// Wait for `run` to end: the receiver resolves with its outcome.
    pub fn wait(&self, run: i64) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut inner) = self.inner.lock() {
            match inner.recent.remove(&run) {
                Some(done) => {
                    let _ = tx.send(done);
                }
                None => {
                    inner.waiters.insert(run, tx);
                }
            }
        }
        rx
    }

    /// Stop waiting for `run` (the caller gave up).
    pub fn forget(&self, run: i64) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.waiters.remove(&run);
        }
    }

    /// `run` ended: tell its waiter, or keep the outcome for a moment.
    pub fn finished(&self, run: i64, outcome: Outcome) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(tx) = inner.waiters.remove(&run) {
            let _ = tx.send(outcome);
            return;
        }
        inner.recent.insert(run, outcome);
        inner.order.push_back(run);
        while inner.order.len() > KEPT {
            if let Some(old) = inner.order.pop_front() {
                inner.recent.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done() -> Outcome {
        Outcome {
            status: "completed",
            step: None,
            reason: None,
        }
    }

    #[tokio::test]
    async fn a_waiter_hears_of_its_run_whichever_comes_first() {
        let c = Completions::default();
        let rx = c.wait(1);
        c.finished(1, done());
        assert_eq!(rx.await.unwrap().status, "completed");
        c.finished(2, done());
        assert_eq!(c.wait(2).await.unwrap().status, "completed");
    }

    #[test]
    fn only_the_last_outcomes_are_kept() {
        let c = Completions::default();
        for run in 0..(KEPT as i64 + 10) {
            c.finished(run, done());
        }
        let inner = c.inner.lock().unwrap();
        assert_eq!(inner.recent.len(), KEPT);
        assert!(!inner.recent.contains_key(&0));
    }
}
