//! What a notice says outside Carepath: a line that names no client, no level of care and no
//! program (42 CFR Part 2: that someone is a client is itself a disclosure), the moment that
//! matters, and the link to sign in and see. The only words this crate writes.

use carepath_engine::Message;
use carepath_engine::domain::NoticeKind;
use chrono::{DateTime, Utc};

/// The headline of a notice.
pub fn headline(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::ReferralArrived => "You have a new referral in Carepath",
        NoticeKind::ReferralExpiring => {
            "A referral in Carepath expires within the hour, unanswered"
        }
        NoticeKind::ClientOnTheWay => "Someone is on the way to you",
        NoticeKind::WaitlistSlot => "A waitlisted referral was given a slot with you",
        NoticeKind::GroupEscalated => "A referral ran out and needs you to act",
        NoticeKind::ClientDidNotArrive => "Someone did not arrive where they were sent",
        NoticeKind::LostToCare => "Someone is out of reach of care",
        NoticeKind::FollowupMissed => "A follow-up after discharge was missed",
        NoticeKind::MatLapsing => "A supply runs out tomorrow with nothing booked",
        NoticeKind::BookingNeeded => "A planned move needs a booking",
        NoticeKind::BookingMissed => "A booked appointment was missed",
        NoticeKind::Unanswered => "A notice went unanswered and was passed on to you",
        NoticeKind::WebhookDisabled => {
            "Your organization's webhook was turned off after failing repeatedly"
        }
    }
}

/// What the moment is, for a kind.
fn due_words(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::ReferralArrived | NoticeKind::ReferralExpiring => "expires",
        NoticeKind::ClientOnTheWay | NoticeKind::ClientDidNotArrive => "due by",
        NoticeKind::WaitlistSlot => "held until",
        NoticeKind::MatLapsing => "runs out",
        NoticeKind::BookingNeeded => "planned for",
        _ => "by",
    }
}

/// A moment as people read it in a message: UTC, to the minute.
pub fn moment(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y %H:%M UTC").to_string()
}

/// The one line of a notice: its headline, and the moment that matters.
pub fn line(m: &Message) -> String {
    match m.due {
        Some(due) => format!(
            "{} ({} {})",
            headline(m.kind),
            due_words(m.kind),
            moment(due)
        ),
        None => headline(m.kind).to_owned(),
    }
}

/// Where the notice opens in the console.
pub fn link(base: &str, m: &Message) -> String {
    format!("{}/notifications/{}", base.trim_end_matches('/'), m.notice)
}

const FOOTER: &str = "This message names no one on purpose: sign in to Carepath to see what it \
is about. You can choose which notices you get by e-mail, and when, on your account page.";

/// The subject and plain-text body of an e-mail carrying `messages` (one, or a digest).
pub fn email(base: &str, messages: &[Message]) -> (String, String) {
    let mut body = String::new();
    let subject = match messages {
        [one] => {
            body.push_str(&line(one));
            body.push_str(".\n\nOpen it in Carepath:\n");
            body.push_str(&link(base, one));
            body.push('\n');
            headline(one.kind).to_owned()
        }
        many => {
            body.push_str(&format!("{} notices in Carepath:\n\n", many.len()));
            for m in many {
                body.push_str(&format!("- {}\n  {}\n", line(m), link(base, m)));
            }
            format!("{} notices in Carepath", many.len())
        }
    };
    body.push_str("\n-- \n");
    body.push_str(FOOTER);
    body.push('\n');
    (subject, body)
}

/// A webhook's body: a small JSON object (Standard Webhooks' `type`, `timestamp`, `data`).
pub fn webhook_body(base: &str, m: &Message, now: DateTime<Utc>) -> String {
    serde_json::json!({
        "type": format!("carepath.notice.{}", m.kind.as_str()),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "notice": m.notice.to_string(),
            "kind": m.kind.as_str(),
            "text": line(m),
            "at": m.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "due": m.due.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "link": link(base, m),
        }
    })
    .to_string()
}
