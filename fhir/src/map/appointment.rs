//! `Appointment` (FHIR R4 base resource): each aftercare appointment (when the view shows
//! aftercare) and each MAT booking — a dose, refill, prescriber visit or injection — (when it
//! shows the MAT bookings). Status: `booked` until the provider or the coordinator says what
//! became of it, then `fulfilled` (attended), `noshow` or `cancelled`. The kind of visit is
//! `serviceType` (Carepath's `aftercare-kind` or `mat-booking-kind` code system).
//!
//! Times: an aftercare appointment has an instant and no recorded length, so `start` = `end` =
//! that instant; a MAT booking is for a day, so it runs from the start of that day to the start
//! of the next (UTC). R4 does not let an Organization be a participant's actor, so the client
//! is the one participant and the provider is the `appointment-provider` extension (a
//! Reference to its Organization); the `performer` search matches it.

use super::common::{self, text};
use super::{Kind, Mapped, Source, part2};
use carepath_engine::domain::{
    AftercareKind, Attendance, BookingOutcome, EventData, MatBookingKind,
};
use carepath_engine::ids::{BookingId, OrgId};
use chrono::{DateTime, Days, NaiveDate, Utc};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{Appointmentstatus, Participantrequired, Participationstatus};
use fhir::r4::resources::appointment::AppointmentParticipant;
use fhir::r4::resources::{Appointment, Resource};
use fhir::r4::types::{CodeableConcept, Extension, Instant, extension::ExtensionValue};

/// The extension naming the organization that gives the appointment.
pub const APPOINTMENT_PROVIDER: &str =
    "https://carepath.example/fhir/StructureDefinition/appointment-provider";

/// One booking, whichever its kind.
struct Booking {
    id: BookingId,
    provider: OrgId,
    service: CodeableConcept,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    booked_at: DateTime<Utc>,
    outcome: Option<BookingOutcome>,
}

pub fn appointments(src: &Source) -> Vec<Mapped> {
    let s = &src.record.client;
    let mut out = Vec::new();
    {
        out.extend(s.aftercare.items().iter().map(|a| Booking {
            id: a.id,
            provider: a.provider,
            service: aftercare_kind(a.kind),
            start: a.at,
            end: a.at,
            booked_at: a.booked_at,
            outcome: a.outcome,
        }));
    }
    {
        out.extend(s.mat_bookings.items().iter().map(|b| Booking {
            id: b.id,
            provider: b.provider,
            service: mat_kind(b.kind),
            start: day_start(b.on),
            end: day_start(b.on.checked_add_days(Days::new(1)).unwrap_or(b.on)),
            booked_at: b.booked_at,
            outcome: b.outcome,
        }));
    }
    out.into_iter().map(|b| appointment(src, &b)).collect()
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn aftercare_kind(kind: AftercareKind) -> CodeableConcept {
    let (code, display) = match kind {
        AftercareKind::Outpatient => ("outpatient", "Outpatient treatment"),
        AftercareKind::Prescriber => ("prescriber", "Prescriber visit"),
        AftercareKind::Counseling => ("counseling", "Counseling"),
        AftercareKind::PeerRecovery => ("peer_recovery", "Peer recovery support"),
        AftercareKind::PrimaryCare => ("primary_care", "Primary care"),
    };
    common::carepath_concept("aftercare-kind", code, display)
}

fn mat_kind(kind: MatBookingKind) -> CodeableConcept {
    let display = match kind {
        MatBookingKind::Refill => "MAT refill",
        MatBookingKind::PrescriberVisit => "MAT prescriber visit",
        MatBookingKind::OtpDosing => "OTP dosing",
        MatBookingKind::Injection => "Extended-release naltrexone injection",
    };
    common::carepath_concept("mat-booking-kind", kind.as_str(), display)
}

/// When a booking last changed: the last event naming it, or when it was booked.
fn last_updated(src: &Source, b: &Booking) -> DateTime<Utc> {
    let touches = |d: &EventData| match d {
        EventData::AftercareScheduled { booking, .. }
        | EventData::AftercareAttended { booking, .. }
        | EventData::AftercareMissed { booking, .. }
        | EventData::AftercareCancelled { booking, .. }
        | EventData::AftercareRescheduled { booking, .. }
        | EventData::MatDoseDispensed { booking, .. }
        | EventData::MatRefillPickedUp { booking, .. }
        | EventData::MatVisitAttended { booking, .. }
        | EventData::MatBookingMissed { booking, .. }
        | EventData::MatBookingCancelled { booking, .. }
        | EventData::MatBookingRescheduled { booking, .. }
        | EventData::MatRefillScheduled { booking, .. } => *booking == b.id,
        _ => false,
    };
    let recorded = b.outcome.map(|o| o.recorded_at);
    [
        common::last_touch(src, touches),
        recorded,
        Some(b.booked_at),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(b.booked_at)
}

fn appointment(src: &Source, b: &Booking) -> Mapped {
    let s = &src.record.client;
    let (status, code) = match b.outcome.map(|o| o.attendance) {
        None => (Appointmentstatus::Booked, "booked"),
        Some(Attendance::Attended) => (Appointmentstatus::Fulfilled, "fulfilled"),
        Some(Attendance::NoShow) => (Appointmentstatus::Noshow, "noshow"),
        Some(Attendance::Cancelled) => (Appointmentstatus::Cancelled, "cancelled"),
    };
    let last_updated = last_updated(src, b);
    let client = AppointmentParticipant {
        actor: Some(common::patient(s.id)),
        required: Some(Coded::Known(Participantrequired::Required)),
        status: Coded::Known(Participationstatus::Accepted),
        ..Default::default()
    };
    let built = Appointment::builder()
        .status(Coded::Known(status))
        .participant(vec1::vec1![client])
        .build();
    let mut resource = match built {
        Ok(r) => r,
        Err(e) => unreachable!("status and participant are set: {e}"),
    };
    resource.id = Some(text(b.id.to_string()));
    resource.meta = Some(part2::meta(last_updated));
    resource.text = Some(part2::notice());
    resource.extension = vec![Extension {
        url: text(APPOINTMENT_PROVIDER),
        value: Some(ExtensionValue::Reference(Box::new(common::org(
            src, b.provider,
        )))),
        ..Default::default()
    }];
    resource.identifier = vec![common::uuid_identifier(b.id.0)];
    resource.service_type = vec![b.service.clone()];
    resource.start = Some(Instant(common::instant_text(b.start)));
    resource.end = Some(Instant(common::instant_text(b.end)));
    resource.created = Some(common::date_time(b.booked_at));
    Mapped {
        kind: Kind::Appointment,
        id: b.id.to_string(),
        last_updated,
        status: Some(code),
        performer: Some(b.provider),
        resource: Resource::Appointment(Box::new(resource)),
    }
}
