//! The one clock read shared by services.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds: the precision PostgreSQL keeps,
/// so a timestamp reads back exactly as it was written on every engine.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
