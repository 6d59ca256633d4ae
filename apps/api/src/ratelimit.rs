//! Sign-in throttling, per account and client address, per address, and
//! per account.
//!
//! Every `POST /auth/login` attempt (and every `currentPassword` check)
//! takes a token from three buckets before any password is checked:
//! - one account from one address: 5 attempts, then one a minute (a
//!   guesser at one address is stopped);
//! - one address: 30, then one every 2 s (many accounts from one address);
//! - one account from anywhere: 20, then one every 6 s. This one only
//!   slows down: someone guessing from many addresses cannot lock the
//!   owner out, whose attempt from its own address waits a few seconds at
//!   most (the attack that finding 3 showed: five wrong passwords from one
//!   address locked the account for everyone).
//!
//! The buckets live in this process: with several instances behind a load
//! balancer each instance throttles on its own (see docs/security.md).

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// The throttle of `POST /auth/login`.
#[derive(Debug)]
pub struct LoginLimiter {
    per_pair: DefaultKeyedRateLimiter<(String, Option<IpAddr>)>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    /// Which refusals reach the audit trail: one a minute per account.
    reports: DefaultKeyedRateLimiter<String>,
}

/// Attempts on one account from one address before throttling, then one
/// per this period.
const PAIR_BURST: u32 = 5;
const PAIR_PERIOD: Duration = Duration::from_secs(60);
/// Attempts per client address before throttling, then one per this period.
const ADDRESS_BURST: u32 = 30;
const ADDRESS_PERIOD: Duration = Duration::from_secs(2);
/// Attempts on one account from anywhere before slowing down, then one per
/// this period.
const ACCOUNT_BURST: u32 = 20;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(6);
/// Refusals on one account recorded as `auth.login_throttled`: one per this
/// period (a flood of refused guesses is not a flood of writes).
const REPORT_PERIOD: Duration = Duration::from_secs(60);

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
            per_pair: RateLimiter::keyed(quota(PAIR_BURST, PAIR_PERIOD)),
            per_address: RateLimiter::keyed(quota(ADDRESS_BURST, ADDRESS_PERIOD)),
            per_account: RateLimiter::keyed(quota(ACCOUNT_BURST, ACCOUNT_PERIOD)),
            reports: RateLimiter::keyed(quota(1, REPORT_PERIOD)),
        }
    }
}

impl LoginLimiter {
    /// Takes one attempt on `account` (an e-mail address, or `user:<id>`)
    /// from `address`.
    ///
    /// # Errors
    /// The whole seconds to wait (at least 1) when a bucket is empty.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = DefaultClock::default().now();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(now).as_secs().max(1);
        let account = account.to_lowercase();
        self.per_pair
            .check_key(&(account.clone(), address))
            .map_err(wait)?;
        if let Some(address) = address {
            self.per_address.check_key(&address).map_err(wait)?;
        }
        self.per_account.check_key(&account).map_err(wait)?;
        // Forget idle keys now and then, so the maps do not grow forever.
        if self.per_pair.len() > 10_000 {
            self.per_pair.retain_recent();
            self.per_address.retain_recent();
            self.per_account.retain_recent();
            self.reports.retain_recent();
        }
        Ok(())
    }

    /// Whether a refusal on `account` (just answered by [`LoginLimiter::check`])
    /// should reach the audit trail: the first in a minute does.
    pub fn report_refusal(&self, account: &str) -> bool {
        self.reports.check_key(&account.to_lowercase()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_rapid_attempt_on_one_email_is_refused_with_a_wait() {
        let limiter = LoginLimiter::default();
        for _ in 0..PAIR_BURST {
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
    fn one_refusal_a_minute_per_account_is_reported() {
        let limiter = LoginLimiter::default();
        assert!(limiter.report_refusal("Ann@acme.com"));
        assert!(!limiter.report_refusal("ann@acme.com"), "once a minute");
        assert!(limiter.report_refusal("bob@acme.com"), "per account");
    }

    #[test]
    fn a_guesser_at_one_address_does_not_lock_the_owner_out() {
        let limiter = LoginLimiter::default();
        let attacker: IpAddr = [203, 0, 113, 7].into();
        for _ in 0..PAIR_BURST {
            assert!(limiter.check("ann@acme.com", Some(attacker)).is_ok());
        }
        assert!(limiter.check("ann@acme.com", Some(attacker)).is_err());
        // The owner, from its own address, signs in at once.
        assert!(
            limiter
                .check("ann@acme.com", Some([198, 51, 100, 1].into()))
                .is_ok()
        );
    }

    #[test]
    fn guessing_one_account_from_many_addresses_is_slowed_not_locked() {
        let limiter = LoginLimiter::default();
        for i in 0..ACCOUNT_BURST {
            let ip: IpAddr = [10, 1, 0, u8::try_from(i).unwrap_or(0)].into();
            assert!(limiter.check("ann@acme.com", Some(ip)).is_ok());
        }
        let wait = limiter
            .check("ann@acme.com", Some([10, 2, 0, 1].into()))
            .unwrap_err();
        assert!((1..=6).contains(&wait), "a few seconds at most: {wait}");
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
