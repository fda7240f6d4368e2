//! What any command's values must be before anything is decided: text without control
//! characters (no database stores a NUL in text or JSON), and moments within the years care
//! is planned in. A value outside is bad input, never a storage failure.

use super::command::{
    ClientIdentity, Command, GateOverride, MAX_DISPLAY_NAME, MAX_RECORD_NUMBER, MAX_RELAYED_NOTE,
    OutcomeReport, RelayedBy,
};
use super::error::DecisionError;
use super::state::{ConsentExpiry, HandoffTarget};
use crate::pathway::{LevelId, Pathway};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The years a date or time in a command may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2999;

/// Text a person typed: tabs and line breaks, but no other control character.
pub fn check_text(what: &str, value: &str) -> Result<(), DecisionError> {
    no_control(what, value, |c| c != '\n' && c != '\t' && c != '\r')
}

/// One line a person typed (a name, a record number): no control character at all.
pub fn check_line(what: &str, value: &str) -> Result<(), DecisionError> {
    no_control(what, value, |_| true)
}

/// The one control-character rule: none of those `refused` picks.
fn no_control(
    what: &str,
    value: &str,
    refused: impl Fn(char) -> bool,
) -> Result<(), DecisionError> {
    if value.chars().any(|c| c.is_control() && refused(c)) {
        return Err(DecisionError::bad(format!(
            "{what} contains a control character"
        )));
    }
    Ok(())
}

/// Text that says something: not blank, at most `max` characters. The messages never
/// repeat the value.
pub fn check_length(what: &str, value: &str, max: usize) -> Result<(), DecisionError> {
    if value.trim().is_empty() {
        return Err(DecisionError::bad(format!("{what} is blank")));
    }
    if value.chars().count() > max {
        return Err(DecisionError::bad(format!(
            "{what} has more than {max} characters"
        )));
    }
    Ok(())
}

/// A display name of 1 to [`MAX_DISPLAY_NAME`] characters and a record number of 1 to
/// [`MAX_RECORD_NUMBER`], neither blank nor with a control character. The messages never
/// repeat the values.
pub fn check_identity(identity: &ClientIdentity) -> Result<(), DecisionError> {
    let one_line = |what: &str, v: &str, max: usize| {
        check_length(what, v, max)?;
        check_line(what, v)
    };
    one_line("the display name", &identity.display_name, MAX_DISPLAY_NAME)?;
    if let Some(n) = &identity.record_number {
        one_line("the record number", n, MAX_RECORD_NUMBER)?;
    }
    Ok(())
}

/// Who relayed a report: 1 to [`MAX_RELAYED_NOTE`] characters, not blank, no control
/// character but tabs and line breaks. The messages never repeat the note.
pub fn check_relayed(relayed: &RelayedBy) -> Result<(), DecisionError> {
    let note = &relayed.note;
    if note.trim().is_empty() {
        return Err(DecisionError::bad(
            "relayedBy is blank: say who reported it (e.g. a phone call from the intake nurse)",
        ));
    }
    check_length("relayedBy", note, MAX_RELAYED_NOTE)?;
    check_text("relayedBy", note)
}

pub fn check_date(what: &str, day: NaiveDate) -> Result<(), DecisionError> {
    if YEARS.contains(&day.year()) {
        Ok(())
    } else {
        Err(DecisionError::bad(format!(
            "{what} {day} is outside the years {}–{}",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

pub fn check_time(what: &str, at: DateTime<Utc>) -> Result<(), DecisionError> {
    check_date(what, at.date_naive())
}

fn check_overrides(overrides: &[GateOverride]) -> Result<(), DecisionError> {
    overrides
        .iter()
        .try_for_each(|o| check_text("override reason", &o.reason))
}

/// Every level a command names is one of the pathway's.
fn check_levels(command: &Command, pathway: &Pathway) -> Result<(), DecisionError> {
    let named: Option<&LevelId> = match command {
        Command::Admit { level, .. } => Some(level),
        Command::Transition { to_level, .. } | Command::SendReferral { to_level, .. } => {
            Some(to_level)
        }
        Command::RecordAssessment {
            recommended_level, ..
        } => Some(recommended_level),
        Command::PlanHandoff {
            target: HandoffTarget::Transition { to_level, .. },
            ..
        } => Some(to_level),
        _ => None,
    };
    match named {
        Some(level) if pathway.level(level).is_none() => {
            Err(DecisionError::bad(format!("unknown level \"{level}\"")))
        }
        _ => Ok(()),
    }
}

/// A command whose every level, text, date and time [`check_command`] passed: what
/// [`crate::decide_checked`] decides without checking it again. The engine checks a command
/// this way once, before it reads anything (an unknown level is bad input, not the
/// not-found of the client it names), and not again on a version race's retry.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked(Command);

impl Checked {
    pub fn new(command: Command, pathway: &Pathway) -> Result<Self, DecisionError> {
        check_command(&command, pathway)?;
        Ok(Self(command))
    }

    pub fn command(&self) -> &Command {
        &self.0
    }
}

/// Every level, text, date and time a command carries: by [`Checked::new`] (the engine's
/// one check), or by [`crate::decide`] on a command nothing checked.
pub fn check_command(command: &Command, pathway: &Pathway) -> Result<(), DecisionError> {
    check_levels(command, pathway)?;
    if let Some(r) = command.relayed_by() {
        check_relayed(r)?;
    }
    match command {
        Command::Admit {
            track,
            overrides,
            emergency,
            ..
        }
        | Command::Transition {
            track,
            overrides,
            emergency,
            ..
        } => {
            if let Some(t) = track {
                check_text("track", t)?;
            }
            if let Some(e) = emergency {
                check_text("medical emergency reason", &e.reason)?;
            }
            check_overrides(overrides)
        }
        Command::Discharge { overrides, .. } => check_overrides(overrides),
        Command::RegisterClient {
            identity: Some(identity),
            ..
        }
        | Command::RecordIdentity { identity } => check_identity(identity),
        Command::RecordConsent {
            purpose,
            information,
            expiry,
            signed_on,
            ..
        } => {
            check_text("purpose", purpose)?;
            check_text("information", information)?;
            check_date("signedOn", *signed_on)?;
            if let ConsentExpiry::On(day) = expiry {
                check_date("expiresOn", *day)?;
            }
            Ok(())
        }
        Command::DeclineReferral { reason, .. } => match &reason.note {
            Some(n) => check_text("note", n),
            None => Ok(()),
        },
        Command::RecordAssessment {
            assessed_at: Some(at),
            ..
        } => check_time("assessedAt", *at),
        Command::RecordMatPlan {
            supply_through,
            last_injection_on,
            ..
        } => {
            if let Some(d) = supply_through {
                check_date("supplyThrough", *d)?;
            }
            if let Some(d) = last_injection_on {
                check_date("lastInjectionOn", *d)?;
            }
            Ok(())
        }
        Command::ScheduleAftercare { at, .. } => check_time("at", *at),
        Command::RecordBookingOutcome { outcome, .. } => match outcome {
            OutcomeReport::Attended {
                supply_through: Some(d),
            } => check_date("supplyThrough", *d),
            OutcomeReport::Rescheduled { to } => check_time("rescheduledTo", *to),
            _ => Ok(()),
        },
        Command::ScheduleMatRefill { on, .. } | Command::PlanHandoff { on, .. } => {
            check_date("on", *on)
        }
        _ => Ok(()),
    }
}

/// The longest a time-skipping server's clock moves in one advance.
pub const MAX_CLOCK_ADVANCE_DAYS: i64 = 366;

/// How far an advance of a skipped clock moves it: forward, more than nothing, at most
/// [`MAX_CLOCK_ADVANCE_DAYS`].
pub fn check_clock_advance(by: chrono::Duration) -> Result<(), DecisionError> {
    if by <= chrono::Duration::zero() {
        return Err(DecisionError::bad(
            "the clock moves only forward: `by` is more than nothing",
        ));
    }
    if by > chrono::Duration::days(MAX_CLOCK_ADVANCE_DAYS) {
        return Err(DecisionError::bad(format!(
            "the clock moves at most {MAX_CLOCK_ADVANCE_DAYS} days at a time"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_advances_forward_and_boundedly() {
        use chrono::Duration;
        assert!(check_clock_advance(Duration::zero()).is_err());
        assert!(check_clock_advance(Duration::seconds(-1)).is_err());
        assert!(check_clock_advance(Duration::seconds(1)).is_ok());
        assert!(check_clock_advance(Duration::days(MAX_CLOCK_ADVANCE_DAYS)).is_ok());
        assert!(
            check_clock_advance(Duration::days(MAX_CLOCK_ADVANCE_DAYS) + Duration::seconds(1))
                .is_err()
        );
    }

    #[test]
    fn control_characters_and_far_dates_are_bad_input() {
        assert!(check_text("purpose", "a\u{0}b").is_err());
        assert!(check_text("note", "two\nlines\tand a tab").is_ok());
        assert!(check_date("on", NaiveDate::from_ymd_opt(200_000, 1, 1).unwrap()).is_err());
        assert!(check_date("on", NaiveDate::from_ymd_opt(1899, 12, 31).unwrap()).is_err());
        assert!(check_date("on", NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).is_ok());
    }
}
