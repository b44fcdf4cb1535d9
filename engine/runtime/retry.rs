//! Waiting between attempts. The executor asks a `Sleeper`, so tests run retries instantly and
//! still see every delay; production sleeps on the tokio timer. Jitter is "full jitter": a
//! uniform delay in [0, d].

use crate::connectors::BoxFuture;
use std::sync::Mutex;
use std::time::Duration;

pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()>;
}

/// Real time.
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Records delays and returns at once.
#[derive(Default)]
pub struct RecordingSleeper {
    pub delays: Mutex<Vec<Duration>>,
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        if let Ok(mut v) = self.delays.lock() {
            v.push(d);
        }
        Box::pin(async {})
    }
}

/// A small xorshift generator for jitter; not for anything secret.
pub struct Jitter(Mutex<u64>);

impl Jitter {
    pub fn seeded(seed: u64) -> Self {
        Jitter(Mutex::new(seed.max(1)))
    }

    pub fn from_time() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter::seeded(nanos)
    }

    /// A uniform duration in [0, d].
    pub fn apply(&self, d: Duration) -> Duration {
        let Ok(mut s) = self.0.lock() else { return d };
        let mut x = *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        let nanos = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { x % (nanos + 1) })
    }
}
