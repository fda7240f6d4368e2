//! How the console says things: organizations and levels by name, moments and dates as people
//! write them.

use crate::error::PageError;
use carepath_engine::Engine;
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::{LevelId, Pathway};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

/// Names of the organizations a page mentions, and the pathway's level names.
pub struct Names<'a> {
    orgs: HashMap<OrgId, String>,
    pathway: &'a Pathway,
}

impl<'a> Names<'a> {
    /// The names of `orgs` (and the pathway's levels).
    pub async fn of(
        engine: &'a Engine,
        orgs: impl IntoIterator<Item = OrgId>,
    ) -> Result<Self, PageError> {
        let ids: Vec<OrgId> = orgs.into_iter().collect();
        Ok(Names {
            orgs: engine.org_names(&ids).await?,
            pathway: engine.pathway(),
        })
    }

    pub fn org(&self, id: &OrgId) -> String {
        self.orgs
            .get(id)
            .cloned()
            .unwrap_or_else(|| "an organization no longer registered".into())
    }

    pub fn level(&self, id: &LevelId) -> String {
        level_name(self.pathway, id)
    }

    /// `text` with each organization's id replaced by its name (the engine's explanations
    /// name organizations by id).
    pub fn in_words(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, name) in &self.orgs {
            out = out.replace(&id.to_string(), name);
        }
        out
    }

    pub fn pathway(&self) -> &'a Pathway {
        self.pathway
    }
}

pub fn level_name(pathway: &Pathway, id: &LevelId) -> String {
    pathway
        .level(id)
        .map_or_else(|| id.0.clone(), |l| l.name.clone())
}

/// "Tue 1 Dec 2026, 14:05 UTC".
pub fn moment(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y, %H:%M UTC").to_string()
}

/// "Tue 1 Dec 2026".
pub fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}
