//! DataLoaders: organization names for every `provider { name }` in a response, in one query.

use async_graphql::dataloader::Loader;
use carepath_engine::Engine;
use carepath_engine::ids::OrgId;
use std::collections::HashMap;
use std::sync::Arc;

pub struct OrgName(pub Engine);

impl Loader<OrgId> for OrgName {
    type Value = String;
    type Error = Arc<carepath_engine::Error>;

    async fn load(&self, keys: &[OrgId]) -> Result<HashMap<OrgId, String>, Self::Error> {
        self.0.org_names(keys).await.map_err(Arc::new)
    }
}
