//! Rate limits (GCRA, from `governor`): sign-in attempts per client address, and ingested
//! events per token. Each limited caller is answered 429 with `Retry-After`; nobody else
//! notices.

use crate::server::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct RateLimits {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    ingest: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    /// Checks made; every [`FORGET_EVERY`] the limiters forget keys at full allowance, so
    /// addresses and tokens seen once do not stay in memory.
    checks: AtomicU64,
}

const FORGET_EVERY: u64 = 4096;

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

impl RateLimits {
    /// `sign_in_per_minute` attempts per address (all of them at once, at most);
    /// `ingest_per_second` events per token (a second's worth at once, at most).
    pub fn new(sign_in_per_minute: u32, ingest_per_second: u32) -> RateLimits {
        RateLimits {
            sign_in: DefaultKeyedRateLimiter::keyed(Quota::per_minute(at_least_one(
                sign_in_per_minute,
            ))),
            ingest: DefaultKeyedRateLimiter::keyed(Quota::per_second(at_least_one(
                ingest_per_second,
            ))),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    fn count_check(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.sign_in.retain_recent();
            self.ingest.retain_recent();
        }
    }

    /// One sign-in attempt from `address`.
    pub fn sign_in(&self, address: IpAddr) -> Result<(), AppError> {
        self.count_check();
        self.sign_in
            .check_key(&address)
            .map_err(|not_until| AppError::TooManyRequests {
                message: "too many sign-in attempts from this address; wait and try again".into(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// `events` events ingested by the token `key`.
    pub fn ingest(&self, key: &str, events: usize) -> Result<(), AppError> {
        self.count_check();
        let n = at_least_one(u32::try_from(events).unwrap_or(u32::MAX));
        match self.ingest.check_key_n(&key.to_owned(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(AppError::TooManyRequests {
                message: "this token is sending events faster than its rate limit".into(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
            Err(capacity) => Err(AppError::TooManyRequests {
                message: format!(
                    "a batch of {events} events is more than this token may send at once \
                     ({capacity}); send smaller batches"
                ),
                retry_after: std::time::Duration::from_secs(1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_and_token_has_its_own_allowance() {
        let limits = RateLimits::new(2, 100);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limits.sign_in(a).is_ok());
        assert!(limits.sign_in(a).is_ok());
        match limits.sign_in(a) {
            Err(AppError::TooManyRequests { retry_after, .. }) => {
                assert!(retry_after.as_secs() > 0 && retry_after.as_secs() <= 30)
            }
            other => panic!("{other:?}"),
        }
        assert!(limits.sign_in(b).is_ok(), "another address is not affected");
        assert!(limits.ingest("t1", 100).is_ok());
        assert!(matches!(
            limits.ingest("t1", 10),
            Err(AppError::TooManyRequests { .. })
        ));
        assert!(limits.ingest("t2", 60).is_ok());
        match limits.ingest("t3", 101) {
            Err(AppError::TooManyRequests { message, .. }) => assert!(message.contains("101")),
            other => panic!("{other:?}"),
        }
    }
}
