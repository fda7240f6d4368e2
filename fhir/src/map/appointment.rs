//! `Appointment`: aftercare appointments and MAT bookings, with their outcomes.

use super::{Mapped, Source};

pub fn appointments(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
