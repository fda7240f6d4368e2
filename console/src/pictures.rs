//! The pictures on a client's page, drawn as SVG by the server (sizes as attributes, colours as
//! classes: the CSP allows no inline style): the levels of care over time as a strip, and the
//! MAT supply with the next bookings as a coverage bar that shows a gap in red. Each comes with
//! the same facts in words beside it, for those who do not see the picture.

use crate::words::{Names, day, day_of};
use carepath_engine::domain::{PlacementRecord, VisibleClient};
use carepath_engine::pathway::Pathway;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Width of every picture in SVG units.
pub const WIDTH: f64 = 1000.0;

/// A rectangle of a picture.
pub struct Bar {
    pub x: String,
    pub width: String,
    pub class: String,
    /// Written on the bar when it is wide enough.
    pub label: Option<String>,
    pub label_x: String,
    /// What the bar stands for, for the tooltip and screen readers.
    pub title: String,
}

/// A mark on an axis (a booking, today).
pub struct Mark {
    pub x: String,
    pub class: &'static str,
    pub title: String,
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn bar(x0: f64, x1: f64, class: String, label: String, title: String) -> Bar {
    let w = (x1 - x0).max(2.0);
    Bar {
        x: fmt(x0),
        width: fmt(w),
        class,
        // About 7 units a character at 12px.
        label: (w > label.chars().count() as f64 * 7.0 + 12.0).then_some(label),
        label_x: fmt(x0 + 6.0),
        title,
    }
}

/// The levels of care over time: one bar per placement, grey while on the way.
pub struct Strip {
    pub bars: Vec<Bar>,
    pub start: String,
    pub end: String,
    /// The same in words, oldest first.
    pub words: Vec<String>,
}

/// The record holder sees every placement (the record's history); anyone else the current
/// placement alone.
pub fn strip(client: &VisibleClient, names: &Names<'_>, now: DateTime<Utc>) -> Option<Strip> {
    let current: Vec<PlacementRecord>;
    let placements: &[PlacementRecord] = match client.history.shown() {
        Some(h) => &h.placements,
        None => {
            current = client
                .placement
                .iter()
                .zip(client.episode.iter())
                .map(|(p, e)| PlacementRecord {
                    episode: e.id,
                    level: p.level.clone(),
                    provider: p.provider,
                    since: p.since,
                })
                .collect();
            &current
        }
    };
    let first = placements.first()?;
    let pathway = names.pathway();
    let start = first.since;
    let end = now.max(start + Duration::hours(1));
    let span = (end - start).num_seconds().max(1) as f64;
    let x = |t: DateTime<Utc>| ((t - start).num_seconds() as f64 / span * WIDTH).clamp(0.0, WIDTH);
    let mut bars = Vec::new();
    let mut words = Vec::new();
    for (i, p) in placements.iter().enumerate() {
        let next = placements.get(i + 1);
        // A placement ends where the next begins, at a discharge of its episode, or now.
        let discharged = client
            .episode
            .as_ref()
            .filter(|e| e.id == p.episode)
            .and_then(|e| e.discharged_at);
        // `None`: the stay goes on.
        let ended = match next {
            Some(n) => Some(n.since),
            None => match (&client.transit, discharged) {
                (Some(t), _) => Some(t.departed_at),
                (None, Some(at)) => Some(at),
                _ => None,
            },
        };
        let until = ended.unwrap_or(now).max(p.since);
        let label = names.level(&p.level);
        let title = match ended {
            Some(_) => format!(
                "{} at {}, {} to {}",
                label,
                names.org(&p.provider),
                day_of(p.since),
                day_of(until)
            ),
            None => format!(
                "{} at {}, since {}",
                label,
                names.org(&p.provider),
                day_of(p.since)
            ),
        };
        words.push(title.clone());
        bars.push(bar(
            x(p.since),
            x(until),
            format!("level-{}", level_index(pathway, &p.level)),
            label,
            title,
        ));
    }
    if let Some(t) = &client.transit {
        let title = if t.missed {
            format!(
                "Left for {} at {} on {}, and did not arrive",
                names.level(&t.to_level),
                names.org(&t.provider),
                day_of(t.departed_at)
            )
        } else {
            format!(
                "On the way to {} at {} since {}",
                names.level(&t.to_level),
                names.org(&t.provider),
                day_of(t.departed_at)
            )
        };
        words.push(title.clone());
        bars.push(bar(
            x(t.departed_at),
            x(now),
            "transit".into(),
            if t.missed {
                "did not arrive"
            } else {
                "in transit"
            }
            .into(),
            title,
        ));
    }
    Some(Strip {
        bars,
        start: day_of(start),
        end: day_of(end),
        words,
    })
}

fn level_index(pathway: &Pathway, level: &carepath_engine::pathway::LevelId) -> usize {
    pathway
        .levels
        .iter()
        .position(|l| &l.id == level)
        .unwrap_or(0)
        % 6
}

/// The MAT supply from a week ago to five weeks ahead: covered (green), a gap before the next
/// booking (red), the bookings and today marked.
pub struct Coverage {
    pub bars: Vec<Bar>,
    pub marks: Vec<Mark>,
    pub start: String,
    pub end: String,
    pub today_x: String,
    /// The gap in a few words ("gap of 3 days", "nothing booked after …"), if there is one.
    pub gap: Option<String>,
    pub words: Vec<String>,
}

pub fn coverage(client: &VisibleClient, names: &Names<'_>, today: NaiveDate) -> Option<Coverage> {
    let seen = client.mat_plan.shown()?.as_ref()?;
    let plan = &seen.plan;
    let start = today - Duration::days(7);
    let end = today + Duration::days(35);
    let span = (end - start).num_days() as f64;
    let x = |d: NaiveDate| ((d - start).num_days() as f64 / span * WIDTH).clamp(0.0, WIDTH);
    let medication = crate::words::medication(plan.medication);
    let through = seen.covered_through;
    let upcoming: Vec<_> = {
        let mut b: Vec<_> = client
            .mat_bookings
            .items()
            .iter()
            .filter(|b| {
                b.outcome.is_none() && b.on >= today && plan.medication.continued_by(b.kind)
            })
            .collect();
        b.sort_by_key(|b| b.on);
        b
    };
    let mut bars = Vec::new();
    let mut words = Vec::new();
    let mut gap = None;
    match through {
        Some(through) => {
            let covered_end = through + Duration::days(1);
            // Covered from when the plan was recorded (not before it).
            let from = start.max(crate::words::local_date(plan.recorded_at));
            if covered_end > from {
                bars.push(bar(
                    x(from),
                    x(covered_end),
                    "covered".into(),
                    format!("{medication} in hand"),
                    format!("{medication} covered through {}", day(through)),
                ));
            }
            words.push(format!("{medication} covered through {}.", day(through)));
            let gap_from = covered_end.max(today);
            let gap_to = upcoming.first().map_or(end, |b| b.on);
            if gap_to > gap_from {
                let gap_days = (gap_to - gap_from).num_days();
                let what = match upcoming.first() {
                    Some(b) => {
                        gap = Some(format!("gap of {}", days(gap_days)));
                        format!(
                            "{} without {medication} before the {} on {}",
                            days(gap_days),
                            crate::words::mat_booking(b.kind),
                            day(b.on)
                        )
                    }
                    None => {
                        gap = Some(format!("nothing booked after {}", day(through)));
                        format!("no {medication} booked after {}", day(through))
                    }
                };
                words.push(format!("Gap: {what}."));
                bars.push(bar(
                    x(gap_from),
                    x(gap_to),
                    "gap".into(),
                    "gap".into(),
                    what,
                ));
            }
        }
        None => words.push(format!(
            "{medication}: no supply or injection date recorded."
        )),
    }
    let mut marks = Vec::new();
    for b in &upcoming {
        let what = format!(
            "{} at {} on {}",
            crate::words::mat_booking(b.kind),
            names.org(&b.provider),
            day(b.on)
        );
        words.push(format!("Booked: {what}."));
        if b.on <= end {
            marks.push(Mark {
                x: fmt(x(b.on)),
                class: "booking",
                title: what,
            });
        }
    }
    Some(Coverage {
        bars,
        marks,
        start: day(start),
        end: day(end),
        today_x: fmt(x(today)),
        gap,
        words,
    })
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}
