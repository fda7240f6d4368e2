//! The AsyncAPI document names every event type the engine emits and every inbound type the
//! consumer accepts.

use carepath_engine::domain::EventData;

#[test]
fn asyncapi_documents_every_event_type() {
    let doc = include_str!("../asyncapi.yaml");
    assert!(doc.starts_with("asyncapi: 3.0.0"));
    for t in EventData::TYPES {
        assert!(
            doc.contains(&format!(" {t},")) || doc.contains(&format!(" {t}.")),
            "asyncapi.yaml does not list {t}"
        );
    }
    for t in [
        "aftercare.appointment.scheduled",
        "mat.refill.scheduled",
        "referral.acknowledged",
        "referral.accepted",
        "referral.waitlisted",
        "referral.declined",
        "handoff.arrived",
        "handoff.no_show",
        "aftercare.appointment.attended",
        "aftercare.appointment.missed",
        "mat.dose.dispensed",
        "mat.refill.picked_up",
    ] {
        assert!(
            doc.contains(&format!("name: {t}")),
            "asyncapi.yaml does not describe inbound {t}"
        );
    }
}
