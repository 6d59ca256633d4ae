//! Sign-in throttling, per e-mail and per client address.
//!
//! Every `POST /auth/login` attempt takes a token from both buckets before any
//! password is checked, so guessing is slow whether it targets one account
//! from many addresses or many accounts from one address. The buckets live in
//! this process: with several instances behind a load balancer each instance
//! throttles on its own (see docs/security.md).

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// The throttle of `POST /auth/login`.
#[derive(Debug)]
pub struct LoginLimiter {
    per_email: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

/// Attempts per e-mail address before throttling, then one per this period.
const EMAIL_BURST: u32 = 5;
const EMAIL_PERIOD: Duration = Duration::from_secs(60);
/// Attempts per client address before throttling, then one per this period.
const ADDRESS_BURST: u32 = 30;
const ADDRESS_PERIOD: Duration = Duration::from_secs(2);

fn quota(burst: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period).map_or_else(
        || Quota::per_second(NonZeroU32::MIN),
        |q| q.allow_burst(burst),
    )
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            per_email: RateLimiter::keyed(quota(EMAIL_BURST, EMAIL_PERIOD)),
            per_address: RateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_PERIOD)),
        }
    }
}

impl LoginLimiter {
    /// Takes one attempt for `email` from `address`.
    ///
    /// # Errors
    /// The whole seconds to wait (at least 1) when either bucket is empty.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = DefaultClock::default().now();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(now).as_secs().max(1);
        if let Some(address) = address {
            self.per_address.check_key(&address).map_err(wait)?;
        }
        self.per_email
            .check_key(&email.to_lowercase())
            .map_err(wait)?;
        // Forget idle keys now and then, so the maps do not grow forever.
        if self.per_email.len() > 10_000 {
            self.per_email.retain_recent();
            self.per_address.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_rapid_attempt_on_one_email_is_refused_with_a_wait() {
        let limiter = LoginLimiter::default();
        for _ in 0..EMAIL_BURST {
            assert!(limiter.check("Ann@acme.com", None).is_ok());
        }
        let wait = limiter.check("ann@acme.com", None).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            limiter.check("bob@acme.com", None).is_ok(),
            "other emails unaffected"
        );
    }

    #[test]
    fn one_address_is_throttled_across_emails() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for i in 0..ADDRESS_BURST {
            assert!(limiter.check(&format!("u{i}@acme.com"), Some(ip)).is_ok());
        }
        assert!(limiter.check("new@acme.com", Some(ip)).is_err());
        assert!(
            limiter
                .check("new@acme.com", Some([10, 0, 0, 2].into()))
                .is_ok()
        );
    }
}
