//! The demo data itself: the three organizations, the agents' routing
//! profiles, and the tables the demo leads are drawn from.

use lead::{NewLead, NewLeadInput};
use organization::Tier;
use routing::RawCondition;
use serde_json::{Map, Value, json};
use tenancy::ValidationErrors;

use super::random::Lcg;

/// One demo organization's shape.
pub(super) struct OrgSpec {
    pub(super) name: &'static str,
    pub(super) display_name: &'static str,
    /// The e-mail domain of its users and agents.
    pub(super) domain: &'static str,
    pub(super) tier: Tier,
    pub(super) auto_routing: bool,
    pub(super) sticky_by_domain: bool,
    /// Agent names; the profiles of [`AGENT_PROFILES`] are used in order,
    /// one per name (the last name gets the fallback profile).
    pub(super) agent_names: &'static [&'static str],
}

pub(super) const ORG_SPECS: [OrgSpec; 3] = [
    OrgSpec {
        name: "acme-demo",
        display_name: "Acme Corp (demo)",
        domain: "acme-demo.example",
        tier: Tier::Enterprise,
        auto_routing: false,
        sticky_by_domain: true,
        agent_names: &[
            "Camille Laurent",
            "Lucas Dubois",
            "Olivia Carter",
            "Noah Bennett",
            "Sofia Ramirez",
            "Hiro Tanaka",
            "Avery Brooks",
            "Overflow desk",
        ],
    },
    OrgSpec {
        name: "globex-demo",
        display_name: "Globex (demo)",
        domain: "globex-demo.example",
        tier: Tier::Standard,
        auto_routing: true,
        sticky_by_domain: false,
        agent_names: &[
            "Élodie Martin",
            "Julien Petit",
            "Grace Miller",
            "Ethan Walker",
            "Mateo García",
            "Jordan Lee",
            "Overflow desk",
        ],
    },
    OrgSpec {
        name: "initech-demo",
        display_name: "Initech (demo)",
        domain: "initech-demo.example",
        tier: Tier::Free,
        auto_routing: false,
        sticky_by_domain: false,
        agent_names: &[
            "Manon Girard",
            "Thomas Leroy",
            "Peter Gibbons",
            "Samir Nagheenanajar",
            "Taylor Morgan",
            "Overflow desk",
        ],
    },
];

/// The pools an agent profile belongs to.
#[derive(Clone, Copy)]
pub(super) struct Membership {
    pub(super) emea: bool,
    pub(super) enterprise: bool,
    pub(super) inbound: bool,
}

/// An agent's routing profile.
pub(super) struct AgentProfile {
    pub(super) skills: &'static [&'static str],
    pub(super) regions: &'static [&'static str],
    pub(super) weight: i64,
    pub(super) capacity: Option<i64>,
    pub(super) daily_cap: Option<i64>,
    pub(super) status: &'static str,
    /// `(time zone, days, start, end)`.
    pub(super) hours: Option<(
        &'static str,
        &'static [&'static str],
        &'static str,
        &'static str,
    )>,
    pub(super) pools: Membership,
}

const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];

/// Profiles for all but the last agent of an organization, used in order.
pub(super) const AGENT_PROFILES: [AgentProfile; 7] = [
    AgentProfile {
        skills: &["french", "english"],
        regions: &["EMEA"],
        weight: 3,
        capacity: Some(40),
        daily_cap: None,
        status: "available",
        hours: None,
        pools: Membership {
            emea: true,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["french", "enterprise"],
        regions: &["EMEA"],
        weight: 2,
        capacity: Some(25),
        daily_cap: Some(60),
        status: "available",
        hours: Some(("Europe/Paris", WEEKDAYS, "08:00", "19:00")),
        pools: Membership {
            emea: true,
            enterprise: true,
            inbound: false,
        },
    },
    AgentProfile {
        skills: &["enterprise", "english"],
        regions: &["NA"],
        weight: 5,
        capacity: None,
        daily_cap: Some(80),
        status: "available",
        hours: None,
        pools: Membership {
            emea: false,
            enterprise: true,
            inbound: false,
        },
    },
    AgentProfile {
        skills: &["english"],
        regions: &["NA", "APAC"],
        weight: 1,
        capacity: Some(30),
        daily_cap: None,
        status: "available",
        hours: Some(("America/New_York", WEEKDAYS, "09:00", "17:30")),
        pools: Membership {
            emea: false,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["spanish", "english"],
        regions: &["LATAM"],
        weight: 2,
        capacity: Some(20),
        daily_cap: None,
        status: "away",
        hours: None,
        pools: Membership {
            emea: false,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["english", "japanese"],
        regions: &["APAC"],
        weight: 1,
        capacity: Some(15),
        daily_cap: None,
        status: "paused",
        hours: Some(("Asia/Tokyo", WEEKDAYS, "22:00", "06:00")),
        pools: Membership {
            emea: false,
            enterprise: true,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["english", "french", "enterprise"],
        regions: &["EMEA", "NA"],
        weight: 2,
        capacity: Some(50),
        daily_cap: None,
        status: "available",
        hours: None,
        pools: Membership {
            emea: true,
            enterprise: true,
            inbound: true,
        },
    },
];

/// The last agent of every organization: in no pool, unlimited, always on.
pub(super) const FALLBACK_PROFILE: AgentProfile = AgentProfile {
    skills: &["english", "french", "spanish"],
    regions: &["EMEA", "NA", "LATAM", "APAC"],
    weight: 1,
    capacity: None,
    daily_cap: None,
    status: "available",
    hours: None,
    pools: Membership {
        emea: false,
        enterprise: false,
        inbound: false,
    },
};

/// Which profile index links to the agent-role user: the first available,
/// always-on generalist in [`AGENT_PROFILES`] (index 0).
pub(super) const LINKED_PROFILE: usize = 0;

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `Élodie Martin` → `elodie.martin` (ASCII letters and dots only).
pub(super) fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => Some('e'),
            'í' => Some('i'),
            'á' => Some('a'),
            ' ' => Some('.'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

pub(super) fn condition(field: &str, op: &str, value: Value) -> RawCondition {
    RawCondition {
        field: field.to_owned(),
        op: op.to_owned(),
        value,
    }
}

const FIRST_NAMES: [&str; 16] = [
    "Ann", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Gabriela", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Nadia", "Omar", "Priya",
];
const LAST_NAMES: [&str; 12] = [
    "Lee", "Moreau", "Schmidt", "Rossi", "Nguyen", "Silva", "Kowalski", "Haddad", "Dupont",
    "Okafor", "Sato", "Johnson",
];
/// `((country, region), relative weight)`: France and Belgium are common, so
/// the EMEA rule fires often.
const COUNTRIES: [((&str, &str), u32); 12] = [
    (("FR", "EMEA"), 18),
    (("BE", "EMEA"), 8),
    (("DE", "EMEA"), 8),
    (("GB", "EMEA"), 8),
    (("ES", "EMEA"), 5),
    (("US", "NA"), 20),
    (("CA", "NA"), 7),
    (("MX", "LATAM"), 6),
    (("BR", "LATAM"), 6),
    (("JP", "APAC"), 5),
    (("AU", "APAC"), 5),
    (("IN", "APAC"), 4),
];
/// `(source, relative weight)`.
const SOURCES: [(&str, u32); 6] = [
    ("web", 35),
    ("ads", 20),
    ("event", 12),
    ("partner", 13),
    ("referral", 10),
    ("webinar", 10),
];
/// `(company, e-mail domain)`: few enough that domains repeat (sticky routing).
const COMPANIES: [(&str, &str); 20] = [
    ("Northwind Traders", "northwind.example"),
    ("Contoso", "contoso.example"),
    ("Fabrikam", "fabrikam.example"),
    ("Tailspin Toys", "tailspin.example"),
    ("Wide World Importers", "wideworld.example"),
    ("Adventure Works", "adventure-works.example"),
    ("Litware", "litware.example"),
    ("Proseware", "proseware.example"),
    ("Lucerne Publishing", "lucerne.example"),
    ("Margie's Travel", "margiestravel.example"),
    ("Blue Yonder Airlines", "blueyonder.example"),
    ("Coho Winery", "cohowinery.example"),
    ("Alpine Ski House", "alpineskihouse.example"),
    ("Trey Research", "treyresearch.example"),
    ("Woodgrove Bank", "woodgrove.example"),
    ("Humongous Insurance", "humongous.example"),
    ("Graphic Design Institute", "graphicdesign.example"),
    ("School of Fine Art", "fineartschool.example"),
    ("Southridge Video", "southridge.example"),
    ("Datum Corporation", "adatum.example"),
];
const PRODUCTS: [&str; 4] = ["starter", "pro", "business", "enterprise"];

/// The `n`-th demo lead of an organization.
pub(super) fn demo_lead(
    rng: &mut Lcg,
    org_name: &str,
    n: u32,
) -> Result<NewLead, ValidationErrors> {
    let first = rng.pick(&FIRST_NAMES);
    let last = rng.pick(&LAST_NAMES);
    let &(country, region) = rng.weighted(&COUNTRIES);
    let source = rng.weighted(&SOURCES);
    let (company, domain) = rng.pick(&COMPANIES);
    // Scores lean low, with a tail of hot leads above 80.
    let score = (rng.below(70) + rng.below(41)).min(100);
    let mut fields = Map::new();
    fields.insert("product".into(), json!(rng.pick(&PRODUCTS)));
    fields.insert("seats".into(), json!(5 + rng.below(200)));
    NewLead::parse(NewLeadInput {
        external_id: Some(format!("{org_name}-{n:05}")),
        name: format!("{first} {last}"),
        email: Some(format!("{}.{}@{domain}", slug(first), slug(last))),
        phone: Some(format!("+1 555 {:04}", rng.below(10_000))),
        company: Some((*company).to_owned()),
        source: Some((*source).to_owned()),
        region: Some(region.to_owned()),
        country: Some(country.to_owned()),
        score: Some(i64::from(score)),
        fields: Some(fields),
    })
}

#[cfg(test)]
mod tests {
    use tenancy::Email;

    use super::*;

    #[test]
    fn every_demo_lead_is_valid() {
        let mut rng = Lcg::new(1);
        for n in 0..500 {
            assert!(demo_lead(&mut rng, "acme-demo", n).is_ok());
        }
    }

    #[test]
    fn agent_emails_are_ascii() {
        for spec in &ORG_SPECS {
            for name in spec.agent_names {
                let address = format!("{}@{}", slug(name), spec.domain);
                assert!(Email::parse(&address).is_ok(), "{address}");
                assert!(address.is_ascii(), "{address}");
            }
        }
    }
}
