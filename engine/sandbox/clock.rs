//! The emulators' clock: real time plus an offset a test can move (`POST /_sandbox/clock`), so
//! token expiry and settlement batch closes happen on demand.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock {
            offset: Arc::new(Mutex::new(Duration::zero())),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
            + self
                .offset
                .lock()
                .map(|o| *o)
                .unwrap_or_else(|_| Duration::zero())
    }

    /// Move the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        if let Ok(mut o) = self.offset.lock() {
            *o += by;
        }
    }
}
