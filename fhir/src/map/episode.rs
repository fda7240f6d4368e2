//! `EpisodeOfCare`: one per episode, with `statusHistory` and the level placements.

use super::{Mapped, Source};

pub fn episodes(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
