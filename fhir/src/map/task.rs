//! `Task`: one per referral and one per move, with the BSeR / SDOHCC business status.

use super::{Mapped, Source};

pub fn tasks(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
