use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use crate::client::Client;
use crate::error::StoreError;
use crate::store::ClientStore;

/// Clients held in memory.
///
/// ```
/// use grantor::{Client, ClientSecret, memory::MemoryClientStore};
/// let store = MemoryClientStore::new();
/// store.insert(Client::builder("web").secret(ClientSecret::new("s3cr3t"))
///     .redirect_uri("https://app.example/cb").build().unwrap());
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryClientStore {
    clients: Arc<RwLock<HashMap<Box<str>, Arc<Client>>>>,
}

impl MemoryClientStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a client.
    pub fn insert(&self, client: Client) {
        let mut map = self.clients.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(client.id().into(), Arc::new(client));
    }

    /// Removes a client.
    pub fn remove(&self, client_id: &str) {
        let mut map = self.clients.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(client_id);
    }
}

impl FromIterator<Client> for MemoryClientStore {
    fn from_iter<I: IntoIterator<Item = Client>>(iter: I) -> Self {
        let store = MemoryClientStore::new();
        for c in iter {
            store.insert(c);
        }
        store
    }
}

#[async_trait]
impl ClientStore for MemoryClientStore {
    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let map = self.clients.read().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(client_id).cloned())
    }
}
