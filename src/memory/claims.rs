use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::claims::ClaimsProvider;
use crate::error::StoreError;

/// Claims about users, held in memory.
///
/// ```
/// use grantor::memory::MemoryClaims;
/// let claims = MemoryClaims::new();
/// claims.insert("248289761001", serde_json::json!({"name": "Alice", "email": "alice@example.com"}));
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryClaims {
    users: Arc<RwLock<HashMap<String, Map<String, Value>>>>,
}

impl MemoryClaims {
    /// No users yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the claims of `subject` (a JSON object; anything else is stored as no claims).
    pub fn insert(&self, subject: impl Into<String>, claims: Value) {
        let claims = match claims {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        users.insert(subject.into(), claims);
    }
}

#[async_trait]
impl ClaimsProvider for MemoryClaims {
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, StoreError> {
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner);
        Ok(users.get(subject).cloned().unwrap_or_default())
    }
}
