//! Claims about the end-user for ID tokens and the userinfo endpoint (OIDC Core §5).
//!
//! The host supplies them through [`ClaimsProvider`]; grantor releases only those the granted
//! scope covers (OIDC Core §5.4), so a provider may simply return everything it knows.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::StoreError;
use crate::scope::ScopeSet;

/// The standard claims each scope releases (OIDC Core §5.4).
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// Every claim name some scope can release (for discovery's `claims_supported`).
pub(crate) fn all_standard_claims() -> impl Iterator<Item = &'static str> {
    ["profile", "email", "address", "phone"]
        .into_iter()
        .flat_map(claims_for_scope)
        .copied()
}

/// Keeps only the claims `scope` releases. `sub` is never taken from the provider.
pub(crate) fn filter_claims(all: Map<String, Value>, scope: &ScopeSet) -> Map<String, Value> {
    all.into_iter()
        .filter(|(name, _)| {
            scope
                .iter()
                .any(|s| claims_for_scope(s).contains(&name.as_str()))
        })
        .collect()
}

/// Supplies claims about end-users. Implemented by the host (its user directory).
#[async_trait]
pub trait ClaimsProvider: Send + Sync + 'static {
    /// The claims known about `subject` (for example `name`, `email`). grantor keeps only
    /// those the granted scope releases; `sub` is always grantor's own.
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, StoreError>;
}

#[async_trait]
impl<T: ClaimsProvider + ?Sized> ClaimsProvider for std::sync::Arc<T> {
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, StoreError> {
        (**self).claims(subject).await
    }
}

/// A provider that knows no claims: ID tokens and userinfo carry `sub` only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoClaims;

#[async_trait]
impl ClaimsProvider for NoClaims {
    async fn claims(&self, _subject: &str) -> Result<Map<String, Value>, StoreError> {
        Ok(Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_releases_only_its_claims_oidc_5_4() {
        let mut all = Map::new();
        all.insert("name".into(), "Alice".into());
        all.insert("email".into(), "a@example.com".into());
        all.insert("sub".into(), "forged".into());
        all.insert("secret_flag".into(), true.into());
        let out = filter_claims(all, &ScopeSet::parse("openid profile").unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!(out["name"], "Alice");
    }
}
