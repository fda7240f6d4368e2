//! The measures page: the measures of continuity over the reader's organization's clients
//! (`Engine::measures`, as `carepath-report` lays them out in rows), drawn on the server as SVG
//! bars — each share with its numerator, denominator and rate and the clients behind its
//! misses, each distribution's p50 and p90 per provider as a table and bars — with a GET form
//! for the period, the provider and the level.

use crate::error::PageError;
use crate::inbox::ClientLink;
use crate::page::Choice;
use crate::page::{Chrome, html};
use crate::session::Signed;
use crate::words::{self, Names, cap, day};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use carepath_engine::domain::DeclineCode;
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::LevelId;
use carepath_engine::{Engine, Error};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use std::collections::HashMap;

/// The width of a bar at 100 %, in SVG units.
pub const BAR_WIDTH: u32 = 320;
/// The clients named under a share; the rest are counted.
const MISSED_SHOWN: usize = 12;
/// Days measured when the form names no period.
const DEFAULT_DAYS: i64 = 90;

/// A share: `numerator` of `denominator`, and the clients behind the misses.
pub struct Share {
    pub key: String,
    pub title: &'static str,
    pub note: &'static str,
    pub numerator: u64,
    pub denominator: u64,
    /// "60.0 %", or `None` with nothing counted.
    pub rate: Option<String>,
    /// The bar's width, in SVG units.
    pub width: u32,
    /// A lower share is better: drawn in the colour of a miss.
    pub lower_better: bool,
    pub missed: Vec<ClientLink>,
    pub more: usize,
}

/// A distribution's row: one provider's (or the whole's).
pub struct SpreadRow {
    pub by: String,
    pub count: u64,
    pub p50: String,
    pub p90: String,
    pub w50: u32,
    pub w90: u32,
}

pub struct SpreadTable {
    pub key: String,
    pub title: &'static str,
    pub note: &'static str,
    pub unit: &'static str,
    pub rows: Vec<SpreadRow>,
}

/// A count: decline reasons and single figures.
pub struct Count {
    pub title: String,
    pub count: u64,
    pub width: u32,
}

#[derive(Template)]
#[template(path = "measures.html")]
struct MeasuresPage {
    chrome: Chrome,
    problem: Option<String>,
    from: String,
    to: String,
    provider: String,
    level: String,
    providers: Vec<Choice>,
    levels: Vec<Choice>,
    as_of: String,
    figures: Vec<Count>,
    shares: Vec<Share>,
    spreads: Vec<SpreadTable>,
    declines: Vec<Count>,
    bar_width: u32,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    from: Option<String>,
    to: Option<String>,
    provider: Option<String>,
    level: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn date(v: Option<&str>, what: &str) -> Result<Option<NaiveDate>, Error> {
    v.map(|v| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| Error::BadInput(format!("{what} is a date (year-month-day)")))
    })
    .transpose()
}

/// `GET /measures?from=&to=&provider=&level=` (`to` is the last day counted).
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let today = crate::words::local_date(engine.clock().now());
    let census = engine.census(actor).await?;

    let asked = (|| -> Result<_, Error> {
        let to = date(blank(&filter.to), "`to`")?.unwrap_or(today);
        let from =
            date(blank(&filter.from), "`from`")?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        let provider = blank(&filter.provider)
            .map(|p| {
                uuid::Uuid::parse_str(p)
                    .map(OrgId)
                    .map_err(|_| Error::BadInput("choose a provider from the list".into()))
            })
            .transpose()?;
        let level = blank(&filter.level).map(LevelId::new);
        Ok((from, to, provider, level))
    })();
    let (from, to) = match &asked {
        Ok((from, to, ..)) => (*from, *to),
        Err(_) => (today - Duration::days(DEFAULT_DAYS - 1), today),
    };
    let measured = match asked {
        Ok((from, to, provider, level)) => {
            let start = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            let end = (to + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc();
            engine.measures(actor, start, end, provider, level).await
        }
        Err(e) => Err(e),
    };
    let (measures, problem) = match measured {
        Ok(m) => (Some(m), None),
        Err(Error::BadInput(m)) => (None, Some(m)),
        Err(e) => return Err(e.into()),
    };

    let mut provider_ids: Vec<OrgId> = census.iter().map(|r| r.provider).collect();
    if let Some(m) = &measures {
        provider_ids.extend(
            m.referrals
                .time_to_acknowledge
                .iter()
                .chain(&m.referrals.time_to_first_read)
                .chain(&m.referrals.time_to_answer)
                .map(|p| p.provider),
        );
    }
    provider_ids.sort();
    provider_ids.dedup();
    let names = Names::of(&engine, provider_ids.iter().copied()).await?;

    let mut page = MeasuresPage {
        chrome: Chrome::new(&engine, &signed, "/measures", "Measures").await?,
        problem,
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        provider: blank(&filter.provider).unwrap_or("").to_owned(),
        level: blank(&filter.level).unwrap_or("").to_owned(),
        providers: {
            let mut p: Vec<Choice> = census
                .iter()
                .map(|r| Choice {
                    value: r.provider.to_string(),
                    label: names.org(&r.provider),
                })
                .collect();
            p.sort_by_key(|c| c.label.to_lowercase());
            p.dedup_by(|a, b| a.value == b.value);
            p
        },
        levels: Choice::levels(&engine),
        as_of: String::new(),
        figures: Vec::new(),
        shares: Vec::new(),
        spreads: Vec::new(),
        declines: Vec::new(),
        bar_width: BAR_WIDTH,
    };
    if let Some(m) = &measures {
        page.as_of = format!(
            "{} to {}, judged as of {}",
            day(from),
            day(to),
            crate::words::moment(m.scope.as_of)
        );
        let mut labels = HashMap::new();
        for row in carepath_report::rows(m) {
            let (title, note) = words(&row.measure);
            if let (Some(n), Some(d)) = (row.numerator, row.denominator) {
                let lower_better = LOWER_BETTER.contains(&row.measure.as_str());
                let mut missed = Vec::new();
                for id in row.missed.iter().take(MISSED_SHOWN) {
                    let Ok(uuid) = uuid::Uuid::parse_str(id) else {
                        continue;
                    };
                    missed.push(client_link(&engine, &signed, ClientId(uuid), &mut labels).await?);
                }
                page.shares.push(Share {
                    key: row.measure.clone(),
                    title,
                    note,
                    numerator: n,
                    denominator: d,
                    rate: row.rate.map(|r| format!("{:.1} %", r * 100.0)),
                    width: row.rate.map_or(0, |r| scaled(r, 1.0)),
                    lower_better,
                    more: row.missed.len().saturating_sub(MISSED_SHOWN),
                    missed,
                });
            } else if SPREADS.contains(&row.measure.as_str()) {
                let by = match uuid::Uuid::parse_str(&row.by) {
                    Ok(id) => names.org(&OrgId(id)),
                    Err(_) => "All clients".to_owned(),
                };
                // Widths hold the raw values until each table is scaled below.
                let spread = SpreadRow {
                    by,
                    count: row.count.unwrap_or(0),
                    p50: fixed(row.p50),
                    p90: fixed(row.p90),
                    w50: raw(row.p50),
                    w90: raw(row.p90),
                };
                match page.spreads.iter_mut().find(|t| t.key == row.measure) {
                    Some(t) => t.rows.push(spread),
                    None => page.spreads.push(SpreadTable {
                        key: row.measure.clone(),
                        title,
                        note,
                        unit: if row.measure.starts_with("hours") {
                            "hours"
                        } else {
                            "days"
                        },
                        rows: vec![spread],
                    }),
                }
            } else if row.measure == "declines" {
                page.declines.push(Count {
                    title: cap(words::decline(
                        words::decline_code(&row.by).unwrap_or(DeclineCode::Other),
                    )),
                    count: row.count.unwrap_or(0),
                    width: 0,
                });
            } else if let Some(c) = row.count {
                page.figures.push(Count {
                    title: title.to_owned(),
                    count: c,
                    width: 0,
                });
            }
        }
        // Bars scaled to the longest of each table.
        for t in &mut page.spreads {
            let top = t.rows.iter().map(|r| r.w90.max(r.w50)).max().unwrap_or(0);
            for r in &mut t.rows {
                r.w50 = scaled(f64::from(r.w50), f64::from(top));
                r.w90 = scaled(f64::from(r.w90), f64::from(top));
            }
        }
        let top = page.declines.iter().map(|c| c.count).max().unwrap_or(0);
        for c in &mut page.declines {
            c.width = scaled(c.count as f64, top as f64);
        }
    }
    html(&page)
}

/// Distributions drawn as bars.
const SPREADS: [&str; 5] = [
    "hours_to_first_read",
    "hours_to_acknowledge",
    "hours_to_answer",
    "days_in_transit",
    "moud_gap_days_per_client",
];

/// Shares where less is better.
const LOWER_BETTER: [&str; 2] = ["referral_groups_escalated", "unplanned_discharges"];

/// A value kept for scaling: hundredths, so two decimals survive as an integer.
fn raw(v: Option<f64>) -> u32 {
    v.map_or(0, |v| {
        (v.max(0.0) * 100.0).round().min(f64::from(u32::MAX)) as u32
    })
}

/// `value` of `top` as a bar's width (a value above nothing gets a sliver, to be seen).
fn scaled(value: f64, top: f64) -> u32 {
    if top <= 0.0 || value <= 0.0 {
        return 0;
    }
    ((value / top * f64::from(BAR_WIDTH)).round() as u32).clamp(2, BAR_WIDTH)
}

fn fixed(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"))
}

async fn client_link(
    engine: &Engine,
    signed: &Signed,
    id: ClientId,
    labels: &mut HashMap<ClientId, String>,
) -> Result<ClientLink, PageError> {
    let label = match labels.get(&id) {
        Some(l) => l.clone(),
        None => {
            let l = match engine.read_client(&signed.actor, id).await {
                Ok(client) => words::label_of(&client),
                Err(Error::NotFound(_) | Error::Forbidden(_) | Error::Rejected(_)) => {
                    words::client_label(id, None)
                }
                Err(e) => return Err(e.into()),
            };
            labels.insert(id, l.clone());
            l
        }
    };
    Ok(ClientLink {
        href: format!("/clients/{id}"),
        label,
    })
}

/// A measure's title and what it counts.
fn words(measure: &str) -> (&'static str, &'static str) {
    match measure {
        "clients" => ("Clients counted", ""),
        "referrals_sent" => ("Referrals sent", ""),
        "hours_to_first_read" => (
            "Hours until a referral's notice is read",
            "From the notice of its arrival to the first read by the receiving provider's intake, per provider.",
        ),
        "hours_to_acknowledge" => (
            "Hours to acknowledge a referral",
            "From sent to acknowledged, per receiving provider.",
        ),
        "hours_to_answer" => (
            "Hours to answer a referral",
            "From sent to accepted, declined or waitlisted, per receiving provider.",
        ),
        "referrals_answered_in_time" => (
            "Referrals answered by their deadline",
            "Of those answered or past their deadline.",
        ),
        "referral_groups_escalated" => (
            "Referral groups that ran out",
            "Every provider declined or let it expire: lower is better.",
        ),
        "declines" => ("Declines by reason", ""),
        "handoffs_arrived" => (
            "Handoffs that arrived",
            "Of the handoffs that ended (arrived or missed).",
        ),
        "handoffs_in_transit" => ("Handoffs still under way", ""),
        "days_in_transit" => ("Days in transit", "From leaving to arriving."),
        "arrivals_confirmed_by_receiver" => (
            "Arrivals confirmed by the receiving provider",
            "Of all arrivals; the rest were relayed by the sender.",
        ),
        "fui_7" => (
            "Follow-up within 7 days (HEDIS FUI-7)",
            "A visit kept on a day after an exit from withdrawal management or residential care, through day 7.",
        ),
        "fui_30" => (
            "Follow-up within 30 days (HEDIS FUI-30)",
            "A visit kept on a day after such an exit, through day 30.",
        ),
        "moud_handoffs_without_gap" => (
            "MOUD handoffs with no gap day",
            "Handoffs and discharges on MOUD with the next dose or supply in hand in time.",
        ),
        "moud_gap_days_after_handoffs" => ("MOUD gap days after handoffs", ""),
        "moud_gap_days_per_client" => (
            "MOUD gap days per client",
            "Within the period, per client on MOUD in it.",
        ),
        "moud_dosed_within_7_days" => (
            "Discharged on MOUD, dosed within 7 days",
            "A dose, refill or injection within 7 days of the discharge.",
        ),
        "planned_discharges_with_booking" => (
            "Planned discharges with aftercare booked",
            "An aftercare appointment booked at the time of discharge.",
        ),
        "planned_discharges_with_attended_aftercare" => (
            "Planned discharges with aftercare kept",
            "An aftercare appointment kept within 30 days.",
        ),
        "unplanned_discharges" => (
            "Unplanned discharges",
            "Against medical advice or administrative, of all discharges: lower is better.",
        ),
        "discharges_against_advice" => ("Discharges against medical advice", ""),
        "discharges_administrative" => ("Administrative discharges", ""),
        "lost_to_care_reengaged" => (
            "Clients lost to care who re-engaged",
            "Of the clients lost to care in the period.",
        ),
        "outcomes_reported_by_receiver" => (
            "Visits, doses and refills reported by their provider",
            "Kept or missed, of all such outcomes; the rest were relayed by the sender.",
        ),
        _ => ("Another measure", ""),
    }
}
