//! The dashboard's "leads per agent per day" chart: how many UTC calendar
//! days it covers ([`ChartDays`]), those days and their bounds
//! ([`DayWindow`]), what storage counts for them ([`LeadActivity`]) and the
//! pure assembly of those counts into the chart ([`LeadsPerAgent`]).
//!
//! Storage groups the leads in SQL (one row per day and assigned agent);
//! nothing here reads a clock or a database.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use tenancy::{AgentId, ValidationErrors};

/// Days a chart covers when the caller names none.
pub const DEFAULT_CHART_DAYS: u16 = 7;
/// The most days a chart may cover.
pub const MAX_CHART_DAYS: u16 = 90;

/// How many UTC calendar days a chart covers: 1 to [`MAX_CHART_DAYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartDays(u16);

impl Default for ChartDays {
    fn default() -> Self {
        Self(DEFAULT_CHART_DAYS)
    }
}

impl ChartDays {
    /// Validates a raw `days` value (absent: [`DEFAULT_CHART_DAYS`]).
    ///
    /// # Errors
    /// One field error named `days` outside 1..=[`MAX_CHART_DAYS`].
    pub fn parse(days: Option<i64>) -> Result<Self, ValidationErrors> {
        match days {
            None => Ok(Self::default()),
            Some(d) => u16::try_from(d)
                .ok()
                .filter(|d| (1..=MAX_CHART_DAYS).contains(d))
                .map(Self)
                .ok_or_else(|| {
                    ValidationErrors::single(
                        "days",
                        format!("must be between 1 and {MAX_CHART_DAYS}"),
                    )
                }),
        }
    }

    /// The number of days.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// Consecutive UTC calendar days, oldest first, the last one containing
/// "now". Day `i` is the half-open interval `[bounds[i], bounds[i + 1])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayWindow {
    days: Vec<NaiveDate>,
}

impl DayWindow {
    /// The `days` UTC calendar days ending with the one `now` falls on.
    pub fn ending(now: DateTime<Utc>, days: ChartDays) -> Self {
        let today = now.date_naive();
        let days = (0..u64::from(days.get()))
            .rev()
            .map(|back| {
                today
                    .checked_sub_days(Days::new(back))
                    .unwrap_or(NaiveDate::MIN)
            })
            .collect();
        Self { days }
    }

    /// The days, oldest first (never empty).
    pub fn days(&self) -> &[NaiveDate] {
        &self.days
    }

    /// How many days.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// Always `false`: a window has at least one day.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// `len() + 1` ascending instants: the midnight (UTC) starting each day,
    /// then the one ending the last day. Storage compares `created_at` with
    /// them (`>=` the start, `<` the end).
    pub fn bounds(&self) -> Vec<DateTime<Utc>> {
        let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
        let mut bounds: Vec<_> = self.days.iter().copied().map(midnight).collect();
        if let Some(last) = self.days.last() {
            bounds.push(midnight(last.succ_opt().unwrap_or(NaiveDate::MAX)));
        }
        bounds
    }

    /// The index of the day `t` falls on, `None` outside the window.
    pub fn index_of(&self, t: DateTime<Utc>) -> Option<usize> {
        let first = *self.days.first()?;
        let offset = (t.date_naive() - first).num_days();
        usize::try_from(offset).ok().filter(|&i| i < self.len())
    }
}

/// Leads created on one day of a [`DayWindow`] with the same assigned agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayCount {
    /// The index of the day in [`DayWindow::days`].
    pub day: usize,
    /// The agent the leads are assigned to (as [`lead::Lead::assigned_agent_id`]:
    /// a lead only proposed to an agent is not assigned); `None` for leads
    /// not assigned to anyone.
    pub agent_id: Option<AgentId>,
    /// How many.
    pub leads: u64,
}

/// An agent as the chart names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartAgent {
    /// Its id.
    pub id: AgentId,
    /// Its display name.
    pub name: String,
}

/// What storage reads for a chart, grouped in SQL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadActivity {
    /// One entry per day and assigned agent that has leads (in any order).
    pub counts: Vec<DayCount>,
    /// The agents to show: with the chart of the whole organization, every
    /// active agent and every agent that has a [`DayCount`]; with one agent's
    /// chart, that agent.
    pub agents: Vec<ChartAgent>,
}

/// One agent's line of the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSeries {
    /// The agent.
    pub agent_id: AgentId,
    /// Its display name.
    pub name: String,
    /// Leads assigned to it per day, aligned with [`LeadsPerAgent::days`].
    pub counts: Vec<u64>,
    /// The sum of `counts`.
    pub total: u64,
}

/// Leads per assigned agent and UTC day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadsPerAgent {
    /// The days, oldest first; the last is today.
    pub days: Vec<NaiveDate>,
    /// One line per agent, by total (descending), then name, then id.
    pub agents: Vec<AgentSeries>,
    /// Leads of each day assigned to no agent.
    pub unassigned: Vec<u64>,
}

impl LeadsPerAgent {
    /// A chart of `window` with no agents and no leads.
    pub fn empty(window: &DayWindow) -> Self {
        Self {
            days: window.days().to_vec(),
            agents: Vec::new(),
            unassigned: vec![0; window.len()],
        }
    }

    /// Lays `activity` out over `window`: one line per agent of
    /// `activity.agents` (an agent with counts but absent from that list
    /// still gets a line, named by its id, so no lead goes uncounted), and
    /// the leads without an agent in `unassigned`. Counts of a day outside
    /// the window are ignored.
    pub fn assemble(window: &DayWindow, activity: LeadActivity) -> Self {
        let mut chart = Self::empty(window);
        let n = window.len();
        let mut lines: HashMap<AgentId, AgentSeries> = activity
            .agents
            .into_iter()
            .map(|a| {
                let series = AgentSeries {
                    agent_id: a.id.clone(),
                    name: a.name,
                    counts: vec![0; n],
                    total: 0,
                };
                (a.id, series)
            })
            .collect();
        for count in activity.counts.into_iter().filter(|c| c.day < n) {
            match count.agent_id {
                None => chart.unassigned[count.day] += count.leads,
                Some(id) => {
                    let line = lines.entry(id.clone()).or_insert_with(|| AgentSeries {
                        name: id.to_string(),
                        agent_id: id,
                        counts: vec![0; n],
                        total: 0,
                    });
                    line.counts[count.day] += count.leads;
                    line.total += count.leads;
                }
            }
        }
        chart.agents = lines.into_values().collect();
        chart.agents.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.agent_id.as_str().cmp(b.agent_id.as_str()))
        });
        chart
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn agent(n: u8) -> AgentId {
        AgentId::parse(&format!("agt_0000000000000000000000000000000{n}")).unwrap()
    }

    #[test]
    fn days_default_to_seven_and_stay_within_one_to_ninety() {
        assert_eq!(ChartDays::parse(None).unwrap().get(), 7);
        assert_eq!(ChartDays::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(ChartDays::parse(Some(90)).unwrap().get(), 90);
        for bad in [0, 91, -1, i64::MAX, i64::MIN, 65_537] {
            let err = ChartDays::parse(Some(bad)).unwrap_err();
            assert_eq!(err.fields()[0].field, "days", "{bad}");
        }
    }

    #[test]
    fn a_window_ends_today_oldest_first_in_utc() {
        let w = DayWindow::ending(at(2026, 11, 29, 23, 59, 59), ChartDays::default());
        assert_eq!(w.len(), 7);
        assert!(!w.is_empty());
        assert_eq!(w.days().first(), Some(&date(2026, 11, 23)));
        assert_eq!(w.days().last(), Some(&date(2026, 11, 29)));
        // Just after midnight UTC is already the next day.
        let w = DayWindow::ending(
            at(2026, 11, 30, 0, 0, 0),
            ChartDays::parse(Some(1)).unwrap(),
        );
        assert_eq!(w.days(), [date(2026, 11, 30)]);
    }

    #[test]
    fn windows_cross_months_and_years() {
        let w = DayWindow::ending(at(2026, 1, 2, 8, 0, 0), ChartDays::parse(Some(4)).unwrap());
        assert_eq!(
            w.days(),
            [
                date(2025, 12, 30),
                date(2025, 12, 31),
                date(2026, 1, 1),
                date(2026, 1, 2)
            ]
        );
        let w = DayWindow::ending(at(2028, 3, 1, 0, 0, 0), ChartDays::parse(Some(2)).unwrap());
        assert_eq!(w.days(), [date(2028, 2, 29), date(2028, 3, 1)]);
    }

    #[test]
    fn bounds_are_the_midnights_around_each_day() {
        let w = DayWindow::ending(
            at(2026, 11, 29, 12, 0, 0),
            ChartDays::parse(Some(3)).unwrap(),
        );
        assert_eq!(
            w.bounds(),
            [
                at(2026, 11, 27, 0, 0, 0),
                at(2026, 11, 28, 0, 0, 0),
                at(2026, 11, 29, 0, 0, 0),
                at(2026, 11, 30, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn index_of_places_instants_on_their_day_and_refuses_the_rest() {
        let w = DayWindow::ending(
            at(2026, 11, 29, 12, 0, 0),
            ChartDays::parse(Some(3)).unwrap(),
        );
        assert_eq!(w.index_of(at(2026, 11, 26, 23, 59, 59)), None);
        assert_eq!(w.index_of(at(2026, 11, 27, 0, 0, 0)), Some(0));
        assert_eq!(w.index_of(at(2026, 11, 28, 23, 59, 59)), Some(1));
        assert_eq!(w.index_of(at(2026, 11, 29, 0, 0, 0)), Some(2));
        assert_eq!(w.index_of(at(2026, 11, 30, 0, 0, 0)), None);
        for (i, start) in w.bounds().iter().take(w.len()).enumerate() {
            assert_eq!(w.index_of(*start), Some(i));
        }
    }

    #[test]
    fn assemble_fills_lines_keeps_idle_agents_and_sorts_by_total_then_name() {
        let w = DayWindow::ending(
            at(2026, 11, 29, 12, 0, 0),
            ChartDays::parse(Some(3)).unwrap(),
        );
        let named = |n: u8, name: &str| ChartAgent {
            id: agent(n),
            name: name.into(),
        };
        let count = |day, a: Option<u8>, leads| DayCount {
            day,
            agent_id: a.map(agent),
            leads,
        };
        let chart = LeadsPerAgent::assemble(
            &w,
            LeadActivity {
                counts: vec![
                    count(0, Some(1), 2),
                    count(2, Some(1), 1),
                    count(2, Some(2), 3),
                    count(1, None, 4),
                    count(2, None, 1),
                    count(2, Some(4), 1),
                    count(7, Some(1), 9), // outside the window
                ],
                agents: vec![named(3, "Idle"), named(2, "Zoe"), named(1, "Ada")],
            },
        );
        assert_eq!(chart.days, w.days());
        assert_eq!(chart.unassigned, [0, 4, 1]);
        let lines: Vec<_> = chart
            .agents
            .iter()
            .map(|a| (a.name.as_str(), a.counts.clone(), a.total))
            .collect();
        let unnamed = agent(4).to_string();
        assert_eq!(
            lines,
            [
                ("Ada", vec![2, 0, 1], 3),
                ("Zoe", vec![0, 0, 3], 3),
                (unnamed.as_str(), vec![0, 0, 1], 1),
                ("Idle", vec![0, 0, 0], 0),
            ]
        );
        assert_eq!(chart.agents[0].agent_id, agent(1));
    }

    #[test]
    fn an_empty_chart_has_its_days_and_zero_unassigned() {
        let w = DayWindow::ending(at(2026, 11, 29, 12, 0, 0), ChartDays::default());
        let chart = LeadsPerAgent::empty(&w);
        assert_eq!(chart.days.len(), 7);
        assert!(chart.agents.is_empty());
        assert_eq!(chart.unassigned, [0; 7]);
        assert_eq!(LeadsPerAgent::assemble(&w, LeadActivity::default()), chart);
    }
}
