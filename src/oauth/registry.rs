//! The registered clients in memory: reloaded from the database by every instance each
//! `keys.reload_interval` (with the CORS origins), read without a lock on the hot path.
//! Only `client_credentials` trusts it without the database, and only to accept: a
//! credential it refuses is checked again against the database, so a new client or a
//! new secret works at once; a removed client or an old secret stops working within one
//! reload interval.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::store::clients::ClientRow;

#[derive(Clone, Default)]
pub struct Registry(Arc<RwLock<Arc<HashMap<String, ClientRow>>>>);

impl Registry {
    pub fn replace(&self, rows: &[ClientRow]) {
        let map = rows.iter().map(|r| (r.id.clone(), r.clone())).collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
    }

    pub fn get(&self, id: &str) -> Option<ClientRow> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        map.get(id).cloned()
    }
}
