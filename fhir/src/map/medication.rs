//! `MedicationStatement`: the MAT plan.

use super::{Mapped, Source};

pub fn medication_statements(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
