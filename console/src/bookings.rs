//! The booking forms — an aftercare appointment, a MAT refill or dose, what became of a
//! booking — each run as its engine command on the client (`action::run`). Any page may post
//! here (the worklist, the client page): the answer goes back to the page named in `back`.

use crate::action::{self, Fields, bad};
use crate::error::PageError;
use crate::session::Signed;
use crate::terms;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use carepath_engine::Engine;
use carepath_engine::domain::{Command, OutcomeReport};
use carepath_engine::ids::{BookingId, ClientId};
use uuid::Uuid;

type Form = axum::Form<Vec<(String, String)>>;

/// `POST /clients/{id}/aftercare`: `provider`, `kind`, `at` (date and time, UTC).
pub async fn aftercare(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(client): Path<Uuid>,
    axum::Form(pairs): Form,
) -> Response {
    let fields = Fields::new(pairs);
    action::run(
        &engine,
        &signed,
        &headers,
        &fields,
        Some(ClientId(client)),
        "aftercare-booked",
        |f| {
            Ok(Command::ScheduleAftercare {
                provider: f.org("provider", "the provider")?,
                kind: f
                    .get("kind")
                    .and_then(terms::aftercare_kind)
                    .ok_or_else(|| bad("the kind of appointment is needed".into()))?,
                at: f.moment("at", "the appointment's date and time")?,
            })
        },
    )
    .await
}

/// `POST /clients/{id}/refills`: `provider`, `kind`, `on` (a date).
pub async fn refill(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(client): Path<Uuid>,
    axum::Form(pairs): Form,
) -> Response {
    let fields = Fields::new(pairs);
    action::run(
        &engine,
        &signed,
        &headers,
        &fields,
        Some(ClientId(client)),
        "refill-booked",
        |f| {
            Ok(Command::ScheduleMatRefill {
                provider: f.org("provider", "the provider")?,
                kind: f
                    .get("kind")
                    .and_then(terms::mat_kind)
                    .ok_or_else(|| bad("the kind of MAT booking is needed".into()))?,
                on: f.date("on", "the day")?,
            })
        },
    )
    .await
}

/// `POST /clients/{id}/bookings/{booking}/outcome`: `outcome` (`attended`, `no_show`,
/// `cancelled`, `rescheduled`), with `supply_through` (a date, for a dose or refill kept) or
/// `to` (the new date and time, when rescheduled).
pub async fn outcome(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path((client, booking)): Path<(Uuid, Uuid)>,
    axum::Form(pairs): Form,
) -> Response {
    let fields = Fields::new(pairs);
    action::run(
        &engine,
        &signed,
        &headers,
        &fields,
        Some(ClientId(client)),
        "outcome-recorded",
        |f| {
            Ok(Command::RecordBookingOutcome {
                booking: BookingId(booking),
                outcome: outcome_of(f)?,
            })
        },
    )
    .await
}

fn outcome_of(f: &Fields) -> Result<OutcomeReport, PageError> {
    Ok(match f.required("outcome", "what became of the booking")? {
        "attended" => OutcomeReport::Attended {
            supply_through: match f.get("supply_through") {
                Some(_) => Some(f.date("supply_through", "the last day supplied")?),
                None => None,
            },
        },
        "no_show" => OutcomeReport::NoShow,
        "cancelled" => OutcomeReport::Cancelled,
        "rescheduled" => OutcomeReport::Rescheduled {
            to: f.moment("to", "the new date and time")?,
        },
        _ => return Err(bad("choose what became of the booking".into())),
    })
}
