//! Agents: who leads are routed to, and when they can take one.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use tenancy::{AgentId, Email, FieldError, OrgId, ValidationErrors};

/// Whether an agent takes leads now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentStatus {
    /// Takes leads.
    Available,
    /// On leave, out sick: takes none.
    Away,
    /// Temporarily paused by a manager: takes none.
    Paused,
}

impl AgentStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away => "away",
            AgentStatus::Paused => "paused",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "available" => Ok(AgentStatus::Available),
            "away" => Ok(AgentStatus::Away),
            "paused" => Ok(AgentStatus::Paused),
            _ => Err("must be one of available, away, paused"),
        }
    }
}

/// When an agent works, in its own time zone. A shift whose end is not after
/// its start runs overnight (22:00-06:00 belongs to the day it starts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingHours {
    /// IANA time zone (`Europe/Paris`).
    pub timezone: Tz,
    /// Days a shift starts on.
    pub days: Vec<Weekday>,
    /// Shift start, local time.
    pub start: NaiveTime,
    /// Shift end, local time (exclusive).
    pub end: NaiveTime,
}

/// Day names as the API writes them.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_name(d: Weekday) -> &'static str {
    DAY_NAMES[d.num_days_from_monday() as usize]
}

impl WorkingHours {
    /// Validates raw working hours (`"Europe/Paris"`, `["mon", ...]`, `"09:00"`, `"17:00"`).
    ///
    /// # Errors
    /// One error per bad part, named `workingHours.<part>`.
    pub fn parse(
        timezone: &str,
        days: &[String],
        start: &str,
        end: &str,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let timezone = errors.check(
            "workingHours.timezone",
            timezone
                .parse::<Tz>()
                .map_err(|_| "must be an IANA time zone such as Europe/Paris"),
        );
        let mut parsed_days = Vec::new();
        for d in days {
            match DAY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(d)) {
                Some(i) => {
                    let day = Weekday::try_from(i as u8).unwrap_or(Weekday::Mon);
                    if !parsed_days.contains(&day) {
                        parsed_days.push(day);
                    }
                }
                None => errors.push(FieldError::new(
                    "workingHours.days",
                    "days must be mon, tue, wed, thu, fri, sat or sun",
                )),
            }
        }
        if days.is_empty() {
            errors.push(FieldError::new(
                "workingHours.days",
                "must name at least one day",
            ));
        }
        let time = |field: &str, v: &str, errors: &mut ValidationErrors| {
            errors.check(
                field,
                NaiveTime::parse_from_str(v, "%H:%M")
                    .map_err(|_| "must be a time HH:MM (00:00-23:59)"),
            )
        };
        let start_t = time("workingHours.start", start, &mut errors);
        let end_t = time("workingHours.end", end, &mut errors);
        if let (Some(s), Some(e)) = (start_t, end_t)
            && s == e
        {
            errors.push(FieldError::new(
                "workingHours.end",
                "must differ from start",
            ));
        }
        match (timezone, start_t, end_t) {
            (Some(timezone), Some(start), Some(end)) if errors.is_empty() => Ok(Self {
                timezone,
                days: parsed_days,
                start,
                end,
            }),
            _ => Err(errors),
        }
    }

    /// Whether `now` falls in a shift.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        let (day, time) = (local.weekday(), local.time());
        if self.start < self.end {
            self.days.contains(&day) && time >= self.start && time < self.end
        } else {
            (self.days.contains(&day) && time >= self.start)
                || (self.days.contains(&day.pred()) && time < self.end)
        }
    }

    /// The days as wire names.
    pub fn day_names(&self) -> Vec<&'static str> {
        self.days.iter().map(|d| day_name(*d)).collect()
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}-{:02}:{:02} {}",
            self.day_names().join(","),
            self.start.hour(),
            self.start.minute(),
            self.end.hour(),
            self.end.minute(),
            self.timezone
        )
    }
}

/// An agent of an organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    /// Primary key.
    pub id: AgentId,
    /// Owner organization.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Work address.
    pub email: Email,
    /// The user account of this agent, if it signs in (it then sees its leads).
    pub user_id: Option<String>,
    /// Skills, lower-case (`spanish`, `enterprise`).
    pub skills: Vec<String>,
    /// Regions it covers, as written.
    pub regions: Vec<String>,
    /// Share in weighted pools, 1-100.
    pub weight: u32,
    /// Most open leads at once; `None` = unlimited.
    pub capacity: Option<u32>,
    /// Most new leads per local day; `None` = unlimited.
    pub daily_cap: Option<u32>,
    /// Availability.
    pub status: AgentStatus,
    /// Shifts; `None` = always.
    pub working_hours: Option<WorkingHours>,
    /// Deactivated agents take nothing; their open leads stay where they are.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// The agent's local calendar day at `now` (its working-hours zone, else UTC):
    /// the day its daily cap counts.
    pub fn local_day(&self, now: DateTime<Utc>) -> NaiveDate {
        match &self.working_hours {
            Some(wh) => now.with_timezone(&wh.timezone).date_naive(),
            None => now.date_naive(),
        }
    }

    /// Whether the agent holds every skill (case-insensitive).
    pub fn missing_skills<'a>(&self, required: &'a [String]) -> Vec<&'a str> {
        required
            .iter()
            .filter(|s| {
                let wanted = s.to_lowercase();
                !self.skills.iter().any(|have| have.to_lowercase() == wanted)
            })
            .map(String::as_str)
            .collect()
    }
}

/// An agent's workload at routing time, read in the routing transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentLoad {
    /// Leads proposed to or assigned to it and not closed.
    pub open_leads: u32,
    /// Leads given to it on its current local day.
    pub today: u32,
    /// When it last got a lead.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl AgentLoad {
    /// The load of `agent` at `now` from its stored counters: `open_leads`
    /// leads in an open status, and `daily_count` leads counted on local
    /// day `counted_day`, which count as today's only on that day.
    pub fn from_counters(
        agent: &Agent,
        open_leads: u32,
        daily_count: u32,
        counted_day: Option<NaiveDate>,
        last_assigned_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            open_leads,
            today: if counted_day == Some(agent.local_day(now)) {
                daily_count
            } else {
                0
            },
            last_assigned_at,
        }
    }
}

/// An agent with its load.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The agent.
    pub agent: Agent,
    /// Its load.
    pub load: AgentLoad,
}

/// Raw agent fields from a client.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentInput {
    /// Display name (required on create).
    pub name: Option<String>,
    /// Work e-mail (required on create).
    pub email: Option<String>,
    /// Linked user id, `Some(None)` to unlink.
    pub user_id: Option<Option<String>>,
    /// Skills.
    pub skills: Option<Vec<String>>,
    /// Regions.
    pub regions: Option<Vec<String>>,
    /// Weight 1-100.
    pub weight: Option<i64>,
    /// Capacity (`Some(None)` = unlimited).
    pub capacity: Option<Option<i64>>,
    /// Daily cap (`Some(None)` = unlimited).
    pub daily_cap: Option<Option<i64>>,
    /// Status name.
    pub status: Option<String>,
    /// Working hours, `Some(None)` = always.
    pub working_hours: Option<Option<RawWorkingHours>>,
}

/// Working hours as a client sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawWorkingHours {
    /// IANA time zone.
    pub timezone: String,
    /// Day names.
    pub days: Vec<String>,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
}

/// A validated change to an agent (or, with every field set, a new one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentChange {
    /// New name.
    pub name: Option<String>,
    /// New e-mail.
    pub email: Option<Email>,
    /// New or cleared linked user.
    pub user_id: Option<Option<String>>,
    /// New skills.
    pub skills: Option<Vec<String>>,
    /// New regions.
    pub regions: Option<Vec<String>>,
    /// New weight.
    pub weight: Option<u32>,
    /// New capacity.
    pub capacity: Option<Option<u32>>,
    /// New daily cap.
    pub daily_cap: Option<Option<u32>>,
    /// New status.
    pub status: Option<AgentStatus>,
    /// New working hours.
    pub working_hours: Option<Option<WorkingHours>>,
}

fn list(
    errors: &mut ValidationErrors,
    field: &str,
    values: Vec<String>,
    lower: bool,
) -> Option<Vec<String>> {
    if values.len() > 50 {
        errors.push(FieldError::new(field, "must have at most 50 entries"));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
            errors.push(FieldError::new(field, "entries must be 1-64 characters"));
            return None;
        }
        let v = if lower {
            v.to_lowercase()
        } else {
            v.to_owned()
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Some(out)
}

fn limit(
    errors: &mut ValidationErrors,
    field: &str,
    v: Option<i64>,
    what: &str,
) -> Option<Option<u32>> {
    match v {
        None => Some(None),
        Some(n) if (0..=1_000_000).contains(&n) => Some(Some(n as u32)),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                format!("must be {what} between 0 and 1000000, or null"),
            ));
            None
        }
    }
}

impl AgentChange {
    /// Validates raw fields. With `creating`, `name` and `email` are required.
    ///
    /// # Errors
    /// One error per bad field.
    pub fn parse(input: AgentInput, creating: bool) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match input.name.map(|n| n.trim().to_owned()) {
            Some(n) if n.is_empty() || n.chars().count() > 200 => {
                errors.push(FieldError::new("name", "must be 1-200 characters"));
                None
            }
            Some(n) => Some(n),
            None if creating => {
                errors.push(FieldError::new("name", "is required"));
                None
            }
            None => None,
        };
        let email = match input.email {
            Some(e) => errors.check("email", Email::parse(&e)),
            None if creating => {
                errors.push(FieldError::new("email", "is required"));
                None
            }
            None => None,
        };
        let skills = input
            .skills
            .and_then(|v| list(&mut errors, "skills", v, true));
        let regions = input
            .regions
            .and_then(|v| list(&mut errors, "regions", v, false));
        let weight = match input.weight {
            None => None,
            Some(w) if (1..=100).contains(&w) => Some(w as u32),
            Some(_) => {
                errors.push(FieldError::new(
                    "weight",
                    "must be an integer between 1 and 100",
                ));
                None
            }
        };
        let capacity = input
            .capacity
            .and_then(|v| limit(&mut errors, "capacity", v, "an integer"));
        let daily_cap = input
            .daily_cap
            .and_then(|v| limit(&mut errors, "dailyCap", v, "an integer"));
        let status = input
            .status
            .and_then(|s| errors.check("status", AgentStatus::parse(&s)));
        let working_hours = match input.working_hours {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => {
                match WorkingHours::parse(&raw.timezone, &raw.days, &raw.start, &raw.end) {
                    Ok(wh) => Some(Some(wh)),
                    Err(e) => {
                        errors.extend(e);
                        None
                    }
                }
            }
        };
        let user_id = input.user_id.map(|u| u.filter(|s| !s.trim().is_empty()));
        errors.into_result(Self {
            name,
            email,
            user_id,
            skills,
            regions,
            weight,
            capacity,
            daily_cap,
            status,
            working_hours,
        })
    }

    /// The agent a create command makes.
    ///
    /// # Errors
    /// When `name` or `email` is missing (a command not parsed with `creating`).
    pub fn into_agent(self, org_id: OrgId, now: DateTime<Utc>) -> Result<Agent, ValidationErrors> {
        let (Some(name), Some(email)) = (self.name, self.email) else {
            return Err(ValidationErrors::single("name", "is required"));
        };
        Ok(Agent {
            id: AgentId::generate(),
            org_id,
            name,
            email,
            user_id: self.user_id.flatten(),
            skills: self.skills.unwrap_or_default(),
            regions: self.regions.unwrap_or_default(),
            weight: self.weight.unwrap_or(1),
            capacity: self.capacity.flatten(),
            daily_cap: self.daily_cap.flatten(),
            status: self.status.unwrap_or(AgentStatus::Available),
            working_hours: self.working_hours.flatten(),
            is_active: true,
            created_at: now,
            updated_at: now,
        })
    }
}

impl Agent {
    /// Applies a change. Returns whether the agent came back (from away or
    /// paused to available): weighted pools then lift its count, so it does
    /// not receive a burst of catch-up leads.
    pub fn apply(&mut self, change: AgentChange, now: DateTime<Utc>) -> bool {
        let was_out = self.status != AgentStatus::Available;
        if let Some(v) = change.name {
            self.name = v;
        }
        if let Some(v) = change.email {
            self.email = v;
        }
        if let Some(v) = change.user_id {
            self.user_id = v;
        }
        if let Some(v) = change.skills {
            self.skills = v;
        }
        if let Some(v) = change.regions {
            self.regions = v;
        }
        if let Some(v) = change.weight {
            self.weight = v;
        }
        if let Some(v) = change.capacity {
            self.capacity = v;
        }
        if let Some(v) = change.daily_cap {
            self.daily_cap = v;
        }
        if let Some(v) = change.status {
            self.status = v;
        }
        if let Some(v) = change.working_hours {
            self.working_hours = v;
        }
        self.updated_at = now;
        was_out && self.status == AgentStatus::Available
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn days(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn working_hours_are_checked_in_the_agents_zone() {
        let wh = WorkingHours::parse(
            "Europe/Paris",
            &days(&["mon", "tue", "wed", "thu", "fri"]),
            "09:00",
            "17:00",
        )
        .unwrap();
        // Monday 2026-11-30 08:30 UTC = 09:30 in Paris.
        assert!(wh.contains(Utc.with_ymd_and_hms(2026, 11, 30, 8, 30, 0).unwrap()));
        // 07:30 UTC = 08:30 Paris: too early.
        assert!(!wh.contains(Utc.with_ymd_and_hms(2026, 11, 30, 7, 30, 0).unwrap()));
        // 16:00 UTC = 17:00 Paris: end is exclusive.
        assert!(!wh.contains(Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap()));
        // Sunday.
        assert!(!wh.contains(Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap()));
    }

    #[test]
    fn overnight_shifts_belong_to_the_day_they_start() {
        let wh = WorkingHours::parse("UTC", &days(&["fri"]), "22:00", "06:00").unwrap();
        assert!(
            wh.contains(Utc.with_ymd_and_hms(2026, 12, 4, 23, 0, 0).unwrap()),
            "Friday 23:00"
        );
        assert!(
            wh.contains(Utc.with_ymd_and_hms(2026, 12, 5, 5, 0, 0).unwrap()),
            "Saturday 05:00"
        );
        assert!(
            !wh.contains(Utc.with_ymd_and_hms(2026, 12, 5, 23, 0, 0).unwrap()),
            "Saturday 23:00"
        );
        assert!(
            !wh.contains(Utc.with_ymd_and_hms(2026, 12, 4, 5, 0, 0).unwrap()),
            "Friday 05:00 belongs to Thursday"
        );
    }

    #[test]
    fn bad_working_hours_name_each_part() {
        let e =
            WorkingHours::parse("Mars/Olympus", &days(&["funday"]), "9am", "25:00").unwrap_err();
        let fields: Vec<_> = e.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "workingHours.timezone",
                "workingHours.days",
                "workingHours.start",
                "workingHours.end"
            ]
        );
        assert!(WorkingHours::parse("UTC", &[], "09:00", "17:00").is_err());
        assert!(WorkingHours::parse("UTC", &days(&["mon"]), "09:00", "09:00").is_err());
    }

    #[test]
    fn agent_fields_are_validated() {
        let e = AgentChange::parse(
            AgentInput {
                weight: Some(0),
                capacity: Some(Some(-1)),
                status: Some("sleeping".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = e.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "weight", "capacity", "status"]);
        let ok = AgentChange::parse(
            AgentInput {
                name: Some("Ann".into()),
                email: Some("ann@acme.com".into()),
                skills: Some(vec!["Spanish".into(), "spanish".into()]),
                ..Default::default()
            },
            true,
        )
        .unwrap()
        .into_agent(OrgId::default_org(), Utc::now())
        .unwrap();
        assert_eq!(ok.skills, ["spanish"]);
        assert_eq!(
            (ok.weight, ok.capacity, ok.status),
            (1, None, AgentStatus::Available)
        );
    }

    #[test]
    fn coming_back_from_away_is_reported() {
        let mut a = AgentChange::parse(
            AgentInput {
                name: Some("A".into()),
                email: Some("a@b.co".into()),
                status: Some("away".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap()
        .into_agent(OrgId::default_org(), Utc::now())
        .unwrap();
        assert!(!a.apply(
            AgentChange {
                name: Some("B".into()),
                ..Default::default()
            },
            Utc::now()
        ));
        assert!(a.apply(
            AgentChange {
                status: Some(AgentStatus::Available),
                ..Default::default()
            },
            Utc::now()
        ));
        assert!(!a.apply(
            AgentChange {
                status: Some(AgentStatus::Available),
                ..Default::default()
            },
            Utc::now()
        ));
    }
}
