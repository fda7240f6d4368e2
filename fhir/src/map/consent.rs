//! `Consent`: the 42 CFR Part 2 consents, recipients as actors, revocation as status.

use super::{Mapped, Source};

pub fn consents(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
