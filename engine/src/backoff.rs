//! Exponential backoff between reconnection attempts: the engine's LISTEN loop and the
//! relay's broker connections pause the same way.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(200);
const LONGEST: Duration = Duration::from_secs(5);

pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    pub fn new() -> Self {
        Self { next: FIRST }
    }

    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// The pause before the next attempt: 200 ms, doubling up to 5 s.
    pub fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(LONGEST);
        d
    }
}
