//! Tenants: whose data a row is. A request's tenant comes from its credential, never from
//! what it sends.

use std::fmt;
use std::sync::Arc;

/// The id of the tenant that holds everything stored without an access file.
pub const DEFAULT_TENANT_ID: &str = "default";

/// Longest tenant id.
const MAX_ID_LEN: usize = 64;

/// A tenant. Cheap to clone.
///
/// Rows carry the tenant in a `tenant` column; the default tenant's rows carry the empty string
/// there, which is also what rows stored before tenants existed carry, so that an access file
/// with a tenant `id = "default"` keeps them readable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

impl Tenant {
    /// The tenant of a collector without an access file.
    pub fn default_tenant() -> Self {
        Self(Arc::from(DEFAULT_TENANT_ID))
    }

    /// A tenant by its id: 1 to 64 of `a-z`, `0-9`, `_` and `-`.
    pub fn from_id(id: &str) -> Result<Self, String> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(format!(
                "'{id}' is not a tenant id; use 1 to {MAX_ID_LEN} characters"
            ));
        }
        if !id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
        {
            return Err(format!(
                "'{id}' is not a tenant id; use only a-z, 0-9, _ and -"
            ));
        }
        Ok(Self(Arc::from(id)))
    }

    /// The id, as written in the access file (`default` for the default tenant).
    pub fn id(&self) -> &str {
        &self.0
    }

    /// True for the default tenant.
    pub fn is_default(&self) -> bool {
        &*self.0 == DEFAULT_TENANT_ID
    }

    /// The value of the `tenant` column of this tenant's rows: empty for the default tenant.
    pub fn stored(&self) -> &str {
        if self.is_default() { "" } else { &self.0 }
    }
}

/// The tenant id of a row's `tenant` column (the inverse of [`Tenant::stored`]).
pub fn id_of_stored(stored: &str) -> &str {
    if stored.is_empty() {
        DEFAULT_TENANT_ID
    } else {
        stored
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tenant({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_lowercase_words() {
        for good in ["acme", "a", "team_2-eu", &"x".repeat(64)] {
            assert!(Tenant::from_id(good).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "a b", "a.b", "ü", &"x".repeat(65)] {
            assert!(Tenant::from_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_tenant_is_stored_as_the_empty_string() {
        let default = Tenant::default_tenant();
        assert_eq!((default.id(), default.stored()), ("default", ""));
        assert_eq!(Tenant::from_id("default").expect("valid"), default);
        let acme = Tenant::from_id("acme").expect("valid");
        assert_eq!(acme.stored(), "acme");
        assert_eq!(id_of_stored(acme.stored()), "acme");
        assert_eq!(id_of_stored(default.stored()), "default");
    }
}
