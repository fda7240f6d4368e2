//! `carepath-report`: the measures of continuity as rows — one per measure (and per provider
//! or decline reason) — printed as CSV or as a table for the terminal, by `carepath measures`,
//! the `/metrics` gauges and `carepath simulate` alike.

use carepath_engine::domain::measures::{Measures, Ratio, Spread};
use std::collections::HashMap;
use std::io::Write;

/// One line of the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub measure: String,
    /// The receiving provider (answer times) or the decline reason, when the row is one of
    /// several.
    pub by: String,
    pub numerator: Option<u64>,
    pub denominator: Option<u64>,
    pub rate: Option<f64>,
    pub count: Option<u64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub missed: Vec<String>,
}

fn ratio(measure: &str, r: &Ratio) -> Row {
    Row {
        measure: measure.into(),
        numerator: Some(r.numerator),
        denominator: Some(r.denominator),
        rate: r.rate(),
        missed: r.missed.iter().map(|c| c.to_string()).collect(),
        ..Row::default()
    }
}

fn spread(measure: &str, by: String, s: &Spread) -> Row {
    Row {
        measure: measure.into(),
        by,
        count: Some(s.count),
        p50: s.p50,
        p90: s.p90,
        ..Row::default()
    }
}

fn count(measure: &str, n: u64) -> Row {
    Row {
        measure: measure.into(),
        count: Some(n),
        ..Row::default()
    }
}

/// Every measure, in a fixed order.
pub fn rows(m: &Measures) -> Vec<Row> {
    let r = &m.referrals;
    let mut out = vec![count("clients", m.clients), count("referrals_sent", r.sent)];
    for p in &r.time_to_first_read {
        out.push(spread(
            "hours_to_first_read",
            p.provider.to_string(),
            &p.hours,
        ));
    }
    for p in &r.time_to_acknowledge {
        out.push(spread(
            "hours_to_acknowledge",
            p.provider.to_string(),
            &p.hours,
        ));
    }
    for p in &r.time_to_answer {
        out.push(spread("hours_to_answer", p.provider.to_string(), &p.hours));
    }
    out.push(ratio("referrals_answered_in_time", &r.answered_in_time));
    out.push(ratio("referral_groups_escalated", &r.escalated));
    for (reason, n) in &r.decline_reasons {
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push(Row {
            by: reason,
            ..count("declines", *n)
        });
    }
    out.push(ratio("handoffs_arrived", &m.handoffs.arrived));
    out.push(count("handoffs_in_transit", m.handoffs.in_transit));
    out.push(spread(
        "days_in_transit",
        String::new(),
        &m.handoffs.days_in_transit,
    ));
    out.push(ratio(
        "arrivals_confirmed_by_receiver",
        &m.closed_loop.arrivals_by_receiver,
    ));
    out.push(ratio("fui_7", &m.fui_7));
    out.push(ratio("fui_30", &m.fui_30));
    out.push(ratio(
        "moud_handoffs_without_gap",
        &m.moud.handoffs_without_gap,
    ));
    out.push(count(
        "moud_gap_days_after_handoffs",
        m.moud.gap_days_after_handoffs,
    ));
    out.push(spread(
        "moud_gap_days_per_client",
        String::new(),
        &m.moud.gap_days_per_client,
    ));
    out.push(ratio(
        "moud_dosed_within_7_days",
        &m.moud.dosed_within_7_days,
    ));
    let d = &m.discharges;
    out.push(ratio(
        "planned_discharges_with_booking",
        &d.planned_with_booking,
    ));
    out.push(ratio(
        "planned_discharges_with_attended_aftercare",
        &d.planned_with_attended,
    ));
    out.push(ratio("unplanned_discharges", &d.unplanned));
    out.push(count("discharges_against_advice", d.against_advice));
    out.push(count("discharges_administrative", d.administrative));
    out.push(ratio("lost_to_care_reengaged", &m.lost_to_care));
    out.push(ratio(
        "outcomes_reported_by_receiver",
        &m.closed_loop.outcomes_by_receiver,
    ));
    out
}

fn num<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn fixed(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// CSV with a header; missed clients space-separated in the last column.
pub fn write_csv(m: &Measures, w: impl Write) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record([
        "measure",
        "by",
        "numerator",
        "denominator",
        "rate",
        "count",
        "p50",
        "p90",
        "missed_client_ids",
    ])?;
    for r in rows(m) {
        out.write_record([
            r.measure,
            r.by,
            num(r.numerator),
            num(r.denominator),
            fixed(r.rate),
            num(r.count),
            fixed(r.p50),
            fixed(r.p90),
            r.missed.join(" "),
        ])?;
    }
    out.flush()?;
    Ok(())
}

/// A table for the terminal: a share as `n/d (rate %)`, a distribution as `p50 / p90 (n)`,
/// the number of clients behind the misses (their ids are in the CSV); `names` gives an
/// organization's name for its id.
pub fn write_table(
    m: &Measures,
    names: &HashMap<String, String>,
    mut w: impl Write,
) -> std::io::Result<()> {
    writeln!(
        w,
        "measures from {} to {} (as of {})",
        m.scope
            .from
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        m.scope
            .to
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        m.scope
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )?;
    for r in rows(m) {
        let value = match (r.numerator, r.denominator, r.count) {
            (Some(n), Some(d), _) => match r.rate {
                Some(rate) => format!("{n}/{d} ({:.1} %)", rate * 100.0),
                None => format!("{n}/{d}"),
            },
            (_, _, Some(c)) if r.p50.is_some() || r.measure.contains("hours") => {
                format!("p50 {} / p90 {} (n={c})", fixed(r.p50), fixed(r.p90))
            }
            (_, _, Some(c)) => c.to_string(),
            _ => String::new(),
        };
        let name = if r.by.is_empty() {
            r.measure.clone()
        } else {
            format!("{} [{}]", r.measure, names.get(&r.by).unwrap_or(&r.by))
        };
        let missed = if r.missed.is_empty() {
            String::new()
        } else {
            format!("  (clients missed: {})", r.missed.len())
        };
        writeln!(w, "  {name:<48} {value}{missed}")?;
    }
    Ok(())
}

/// The names of the organizations the rows name (receiving providers), by id as the rows
/// have it: [`write_table`]'s `names`.
pub async fn provider_names(
    engine: &carepath_engine::Engine,
    m: &Measures,
) -> Result<HashMap<String, String>, carepath_engine::Error> {
    Ok(engine
        .org_names(&providers(m))
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

/// The organizations the rows name (receiving providers).
fn providers(m: &Measures) -> Vec<carepath_engine::ids::OrgId> {
    let mut ids: Vec<_> = m
        .referrals
        .time_to_acknowledge
        .iter()
        .chain(&m.referrals.time_to_first_read)
        .chain(&m.referrals.time_to_answer)
        .map(|p| p.provider)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
