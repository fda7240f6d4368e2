//! `ServiceRequest`: one per referral (HL7 BSeR referral request).

use super::{Mapped, Source};

pub fn service_requests(_src: &Source) -> Vec<Mapped> {
    Vec::new()
}
