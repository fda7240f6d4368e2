//! Lost to care and re-engagement: a client out of reach of care, and back in reach.

use crate::decide::draft::Draft;
use crate::event::*;
use crate::state::*;

impl Draft<'_> {
    /// The client is out of reach of care (once: a second reason while lost adds nothing).
    pub(in crate::decide) fn lose(&mut self, reason: LostReason) {
        if self.s.lost_to_care.is_some() {
            return;
        }
        self.emit(
            self.current_level(),
            None,
            EventData::ClientLostToCare { reason },
        );
        self.s.lost_to_care = Some(LostToCare {
            reason,
            since: self.now(),
        });
    }

    /// Back in reach of care: closes a lost-to-care episode opened for any reason.
    pub(in crate::decide) fn reengage(&mut self) {
        if let Some(lost) = self.s.lost_to_care.take() {
            self.emit(
                self.current_level(),
                None,
                EventData::ClientReengaged {
                    reason: lost.reason,
                },
            );
        }
    }
}
