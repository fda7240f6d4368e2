//! Search parameters: which ones each resource type takes, parsed strictly (an unknown or
//! malformed parameter is a 400 that names it, not silently ignored), and whether a mapped
//! resource matches them.

use crate::error::FhirError;
use crate::map::{Kind, Mapped};
use carepath_engine::ids::{ClientId, OrgId};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Results per page when `_count` does not say.
pub const DEFAULT_COUNT: usize = 50;
/// The most results a page holds.
pub const MAX_COUNT: usize = 500;

/// The search parameters each type takes, beyond `_count`, `_format` and the page cursor.
pub fn params(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Patient => &["_id", "_lastUpdated"],
        Kind::Organization => &["_id"],
        Kind::EpisodeOfCare | Kind::Consent | Kind::MedicationStatement => {
            &["_id", "_lastUpdated", "patient", "status"]
        }
        Kind::ServiceRequest | Kind::Task | Kind::Appointment => {
            &["_id", "_lastUpdated", "patient", "status", "performer"]
        }
    }
}

/// A `_lastUpdated` bound: `prefix` applied to the instant or day given.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bound {
    prefix: Prefix,
    /// The value as an interval [start, end): a day, or one instant (end = start).
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Prefix {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

/// A parsed search.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub ids: Option<Vec<String>>,
    pub patient: Option<ClientId>,
    pub statuses: Option<Vec<String>>,
    pub performer: Option<OrgId>,
    last_updated: Vec<Bound>,
    pub count: usize,
    /// Where the page starts: at this client (by id), after skipping this many of its matches.
    pub cursor: Option<(ClientId, usize)>,
}

impl Search {
    pub fn parse(kind: Kind, query: &[(String, String)]) -> Result<Search, FhirError> {
        let allowed = params(kind);
        let mut s = Search {
            count: DEFAULT_COUNT,
            ..Search::default()
        };
        for (name, value) in query {
            let bad =
                |why: &str| FhirError::BadRequest(format!("search parameter `{name}`: {why}"));
            match name.as_str() {
                "_format" => match value.as_str() {
                    "json" | "application/json" | "application/fhir+json" => {}
                    _ => {
                        return Err(FhirError::NotAcceptable(format!(
                            "_format {value}: this server answers JSON only"
                        )));
                    }
                },
                "_count" => {
                    s.count = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_COUNT).contains(n))
                        .ok_or_else(|| bad(&format!("a number from 1 to {MAX_COUNT}")))?;
                }
                "_cursor" => {
                    let (client, skip) = value
                        .split_once('.')
                        .and_then(|(c, n)| Some((c.parse().ok()?, n.parse().ok()?)))
                        .ok_or_else(|| bad("not a page link this server made"))?;
                    s.cursor = Some((ClientId(client), skip));
                }
                n if !allowed.contains(&n) => {
                    return Err(FhirError::BadRequest(format!(
                        "{} takes no search parameter `{n}` (it takes: {})",
                        kind.as_str(),
                        allowed.join(", ")
                    )));
                }
                "_id" => s.ids = Some(value.split(',').map(str::to_owned).collect()),
                "patient" => {
                    let id = value.strip_prefix("Patient/").unwrap_or(value);
                    s.patient = Some(ClientId(
                        id.parse().map_err(|_| bad("a Patient id (a UUID)"))?,
                    ));
                }
                "performer" => {
                    let id = value.strip_prefix("Organization/").unwrap_or(value);
                    s.performer = Some(OrgId(
                        id.parse().map_err(|_| bad("an Organization id (a UUID)"))?,
                    ));
                }
                "status" => s.statuses = Some(value.split(',').map(str::to_owned).collect()),
                "_lastUpdated" => s.last_updated.push(bound(value).ok_or_else(|| {
                    bad("a date (2026-12-01) or instant (2026-12-01T10:00:00Z), prefixed eq, ge, gt, le or lt")
                })?),
                _ => unreachable!("every allowed parameter is parsed"),
            }
        }
        Ok(s)
    }

    /// Whether `m` matches every parameter given.
    pub fn matches(&self, m: &Mapped) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(&m.id))
            && self
                .statuses
                .as_ref()
                .is_none_or(|st| m.status.is_some_and(|s| st.iter().any(|x| x == s)))
            && self.performer.is_none_or(|p| m.performer == Some(p))
            && self.last_updated.iter().all(|b| b.holds(m.last_updated))
    }

    /// The query string of this search without its cursor, for the page links.
    pub fn query_without_cursor(query: &[(String, String)]) -> Vec<(String, String)> {
        query
            .iter()
            .filter(|(n, _)| n != "_cursor")
            .cloned()
            .collect()
    }
}

fn bound(value: &str) -> Option<Bound> {
    let (prefix, rest) = match value.get(..2) {
        Some("eq") => (Prefix::Eq, &value[2..]),
        Some("ge") => (Prefix::Ge, &value[2..]),
        Some("gt") => (Prefix::Gt, &value[2..]),
        Some("le") => (Prefix::Le, &value[2..]),
        Some("lt") => (Prefix::Lt, &value[2..]),
        _ => (Prefix::Eq, value),
    };
    let (start, end) = if let Ok(day) = NaiveDate::parse_from_str(rest, "%Y-%m-%d") {
        let start = day.and_hms_opt(0, 0, 0)?.and_utc();
        (start, start + Duration::days(1))
    } else {
        let t = DateTime::parse_from_rfc3339(rest).ok()?.with_timezone(&Utc);
        (t, t)
    };
    Some(Bound { prefix, start, end })
}

impl Bound {
    fn holds(&self, t: DateTime<Utc>) -> bool {
        let instant = self.start == self.end;
        match self.prefix {
            Prefix::Eq if instant => t == self.start,
            Prefix::Eq => self.start <= t && t < self.end,
            Prefix::Ge => t >= self.start,
            Prefix::Gt if instant => t > self.start,
            Prefix::Gt => t >= self.end,
            Prefix::Le if instant => t <= self.start,
            Prefix::Le => t < self.end,
            Prefix::Lt => t < self.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn unknown_and_malformed_parameters_are_refused_by_name() {
        let e = Search::parse(Kind::Patient, &q(&[("performer", "x")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("Patient takes no search parameter `performer`"),
            "{e}"
        );
        for (n, v) in [
            ("_count", "0"),
            ("_count", "501"),
            ("patient", "nobody"),
            ("_lastUpdated", "yesterday"),
            ("_cursor", "x"),
        ] {
            let e = Search::parse(Kind::Task, &q(&[(n, v)])).unwrap_err();
            assert!(matches!(e, FhirError::BadRequest(_)), "{n}={v}: {e}");
            assert!(e.to_string().contains(&format!("`{n}`")), "{e}");
        }
    }

    #[test]
    fn last_updated_takes_days_and_instants_with_prefixes() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let t = at("2026-12-01T10:00:00Z");
        let holds = |v: &str| bound(v).unwrap().holds(t);
        assert!(holds("2026-12-01") && holds("eq2026-12-01"));
        assert!(!holds("2026-12-02") && holds("lt2026-12-02") && holds("le2026-12-01"));
        assert!(holds("ge2026-12-01") && !holds("gt2026-12-01") && holds("gt2026-11-30"));
        assert!(holds("ge2026-12-01T10:00:00Z") && !holds("gt2026-12-01T10:00:00Z"));
        assert!(holds("le2026-12-01T10:00:00+00:00") && !holds("lt2026-12-01T10:00:00Z"));
    }
}
