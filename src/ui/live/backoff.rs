//! Jittered exponential backoff for reconnecting: the delay doubles per failure up to a cap,
//! and each wait is drawn between half the delay and the whole of it, so that a server restart
//! does not bring every open tab back in the same millisecond.

#[derive(Clone, Debug)]
pub struct Backoff {
    first_ms: u32,
    max_ms: u32,
    current_ms: u32,
}

impl Backoff {
    pub fn new(first_ms: u32, max_ms: u32) -> Self {
        Backoff {
            first_ms,
            max_ms,
            current_ms: first_ms,
        }
    }

    /// The next wait, given a uniform random number in [0, 1); doubles the delay after it.
    pub fn next_ms(&mut self, random: f64) -> u32 {
        let base = f64::from(self.current_ms);
        let wait = base / 2.0 + base / 2.0 * random.clamp(0.0, 1.0);
        self.current_ms = self.current_ms.saturating_mul(2).min(self.max_ms);
        wait as u32
    }

    /// After a connection that worked: start from the first delay again.
    pub fn reset(&mut self) {
        self.current_ms = self.first_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_inside_the_window() {
        let mut backoff = Backoff::new(500, 4_000);
        assert_eq!(backoff.next_ms(0.0), 250);
        assert_eq!(backoff.next_ms(0.999_999), 999);
        assert_eq!(backoff.next_ms(0.5), 1_500);
        assert_eq!(backoff.next_ms(0.0), 2_000);
        assert_eq!(backoff.next_ms(0.0), 2_000, "capped at 4 s");
        backoff.reset();
        assert_eq!(backoff.next_ms(1.0), 500);
    }
}
