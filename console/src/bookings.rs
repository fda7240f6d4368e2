//! The booking forms — an aftercare appointment, a MAT refill or dose, what became of a
//! booking — each run as its engine command on the client (`action::run`). Any page may post
//! here (the worklist, the client page): the answer goes back to the page named in `back`.

use crate::action::{Fields, bad};
use crate::error::PageError;
use crate::words;
use carepath_engine::domain::{Command, OutcomeReport};
use carepath_engine::ids::{BookingId, ClientId};
use uuid::Uuid;

form_route!(
    /// `POST /clients/{id}/aftercare`: `provider`, `kind`, `at` (date and time, in the person's
    /// time zone).
    aftercare(client, Uuid) => Some(ClientId(client)), "aftercare-booked", |f| {
        Ok(Command::ScheduleAftercare {
            provider: f.org("provider", "the provider")?,
            kind: f
                .get("kind")
                .and_then(words::aftercare_kind)
                .ok_or_else(|| bad("the kind of appointment is needed".into()))?,
            at: f.moment("at", "the appointment's date and time")?,
        })
    }
);

form_route!(
    /// `POST /clients/{id}/refills`: `provider`, `kind`, `on` (a date).
    refill(client, Uuid) => Some(ClientId(client)), "refill-booked", |f| {
        Ok(Command::ScheduleMatRefill {
            provider: f.org("provider", "the provider")?,
            kind: f
                .get("kind")
                .and_then(words::mat_kind)
                .ok_or_else(|| bad("the kind of MAT booking is needed".into()))?,
            on: f.date("on", "the day")?,
        })
    }
);

form_route!(
    /// `POST /clients/{id}/bookings/{booking}/outcome`: `outcome` (`attended`, `no_show`,
    /// `cancelled`, `rescheduled`), with `supply_through` (a date, for a dose or refill kept)
    /// or `to` (the new date and time, when rescheduled).
    outcome((client, booking), (Uuid, Uuid)) => Some(ClientId(client)), "outcome-recorded", |f| {
        Ok(Command::RecordBookingOutcome {
            booking: BookingId(booking),
            outcome: outcome_of(f)?, relayed_by: f.relayed_by(), })
    }
);

/// What became of the booking, as the person chose it: the form chooses nothing for them.
fn outcome_of(f: &Fields) -> Result<OutcomeReport, PageError> {
    let Some(outcome) = f.get("outcome") else {
        return Err(bad(NO_OUTCOME.into()));
    };
    Ok(match outcome {
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
        _ => return Err(bad(NO_OUTCOME.into())),
    })
}

const NO_OUTCOME: &str =
    "choose what became of the booking: kept, missed, cancelled or moved to another time";
