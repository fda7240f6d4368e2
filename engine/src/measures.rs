//! The measures of continuity over an organization's clients (`domain::measures`), counted
//! from their events, a page of clients at a time.

use crate::dom::measures::{Measures, Scope, Tally};
use crate::dom::{self as domain, Actor};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::*;
use crate::pathway::LevelId;
use chrono::{DateTime, Utc};

/// Clients read per query.
const PAGE: u64 = 500;
/// The longest period measured at once.
const MAX_DAYS: i64 = 3660;

impl Engine {
    /// The measures of the clients `actor` holds the records of (an admin: everyone's) for
    /// items starting in `[from, to)`, at `provider` and `level` when given, judged now
    /// (`policy::read_measures`).
    pub async fn measures(
        &self,
        actor: &Actor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        provider: Option<OrgId>,
        level: Option<LevelId>,
    ) -> Result<Measures, Error> {
        let home_org = domain::policy::read_measures(actor)?;
        if to <= from {
            return Err(Error::BadInput("`to` must be after `from`".into()));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(Error::BadInput(format!(
                "a period of at most {MAX_DAYS} days is measured at once"
            )));
        }
        if let Some(l) = &level
            && self.pathway().level(l).is_none()
        {
            return Err(Error::BadInput(format!("unknown level \"{}\"", l.as_str())));
        }
        let level_id = level.as_ref().map(|l| l.as_str().to_owned());
        let mut tally = Tally::new(Scope {
            from,
            to,
            provider,
            level,
            as_of: self.clock().now(),
        });
        let mut after = None;
        loop {
            let page = self.store().client_histories(home_org, after, PAGE).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(*last);
            for (_, events) in &page {
                tally.client(events);
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        let reads = self
            .store()
            .referral_notices(
                domain::notify::NoticeKind::ReferralArrived.as_str(),
                home_org,
                provider,
                level_id.as_deref(),
                from,
                to,
            )
            .await?
            .into_iter()
            .filter_map(|n| {
                let read = n.first_read_at?;
                let hours = (read - n.show_at).num_seconds().max(0) as f64 / 3600.0;
                Some((n.org, hours))
            })
            .collect();
        Ok(tally.finish_with_reads(reads))
    }
}
