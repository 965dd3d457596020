//! Access: who may send telemetry and who may read it. Without an access file every request is
//! the default tenant's, as before tenants existed. With one (`--access`), ingest needs a key and
//! the query API a read token; each resolves to the one tenant it was granted to, so a request's
//! tenant always comes from its credential. Keys and tokens are looked up by their SHA-256,
//! compared in constant time; SIGHUP reloads the file ([`Access::reload`]), keeping the previous
//! one in force when the new one does not validate.

mod config;
mod file;
pub mod http;
pub mod keys;
mod rate;
mod tenant;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use config::{AccessOptions, ApiHost, ENV_ACCESS, ENV_API_ALLOWED_ORIGIN, ENV_API_HOST};
pub use file::{FileProblem, Place};
pub use rate::{Bucket, Rate};
pub use tenant::{DEFAULT_TENANT_ID, Tenant, id_of_stored};

use self::file::TenantSpec;
use self::keys::{Digest, digest, same};
use crate::config::CorsOrigin;

/// What a read token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read the tenant's data.
    Read,
    /// Read, and delete users' and sessions' data.
    Admin,
}

/// An access file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The file could not be read.
    #[error("--access: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse or validate.
    #[error("--access: {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        problem: Box<FileProblem>,
    },
}

/// Why an ingest request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestDenied {
    /// No key in the request.
    #[error(
        "an ingest key is required: send it as x-tracewire-key, Authorization: Bearer, or ?key="
    )]
    MissingKey,
    /// A key the access file does not grant.
    #[error("the ingest key is not known to this collector")]
    UnknownKey,
    /// A browser key sent from a page whose origin the key is not bound to.
    #[error("this ingest key may not be used from origin {origin}")]
    Origin {
        /// The key's tenant.
        tenant: Tenant,
        /// The request's `Origin`.
        origin: String,
    },
    /// The key's rate is spent.
    #[error("the ingest key's rate of {rate} is spent; retry after {retry_after:?}")]
    RateLimited {
        /// The key's tenant.
        tenant: Tenant,
        /// The key's rate.
        rate: Rate,
        /// When the bucket holds enough again.
        retry_after: Duration,
    },
}

impl IngestDenied {
    /// The reason as counted in `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownKey => "unknown_key",
            Self::Origin { .. } => "origin",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// The tenant, when the key was known.
    pub fn tenant(&self) -> Option<&Tenant> {
        match self {
            Self::MissingKey | Self::UnknownKey => None,
            Self::Origin { tenant, .. } | Self::RateLimited { tenant, .. } => Some(tenant),
        }
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadDenied {
    /// No token in the request.
    #[error("a read token is required: send Authorization: Bearer <token>")]
    MissingToken,
    /// A token the access file does not grant.
    #[error("the read token is not known to this collector")]
    UnknownToken,
}

/// A request allowed to send: its tenant and its key's rate.
#[derive(Debug, Clone)]
pub struct Sender {
    /// Whose data it sends.
    pub tenant: Tenant,
    bucket: Option<Arc<Bucket>>,
}

impl Sender {
    /// A sender of the default tenant without a rate (no access file).
    pub fn default_tenant() -> Self {
        Self {
            tenant: Tenant::default_tenant(),
            bucket: None,
        }
    }

    /// Takes `items` from the key's rate; refused with how long to wait when it is spent.
    pub fn take(&self, items: usize) -> Result<(), IngestDenied> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        bucket
            .take(u64::try_from(items).unwrap_or(u64::MAX))
            .map_err(|retry_after| IngestDenied::RateLimited {
                tenant: self.tenant.clone(),
                rate: bucket.rate(),
                retry_after,
            })
    }
}

/// A request allowed to read: its tenant and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// Whose data it reads.
    pub tenant: Tenant,
    /// What it may do.
    pub role: Role,
}

/// What an access file held when it was loaded, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Tenants.
    pub tenants: usize,
    /// Ingest keys.
    pub keys: usize,
    /// Read tokens.
    pub tokens: usize,
}

/// The access rules in force. Cheap to share; [`Access::reload`] swaps them atomically.
#[derive(Debug)]
pub struct Access {
    path: Option<PathBuf>,
    policy: RwLock<Arc<Policy>>,
}

#[derive(Debug, Default)]
struct Policy {
    keys: Vec<KeyEntry>,
    tokens: Vec<TokenEntry>,
    any_origin: bool,
    origins: HashSet<String>,
    loaded: Option<Loaded>,
}

#[derive(Debug)]
struct KeyEntry {
    tenant: Tenant,
    digest: Digest,
    origins: Option<Vec<CorsOrigin>>,
    bucket: Option<Arc<Bucket>>,
}

#[derive(Debug)]
struct TokenEntry {
    tenant: Tenant,
    digest: Digest,
    role: Role,
}

impl Access {
    /// No access file: everything is the default tenant's.
    pub fn open_to_all() -> Self {
        Self {
            path: None,
            policy: RwLock::new(Arc::new(Policy::default())),
        }
    }

    /// Reads and validates the access file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, AccessError> {
        let policy = load(path, &Policy::default())?;
        Ok(Self {
            path: Some(path.to_owned()),
            policy: RwLock::new(Arc::new(policy)),
        })
    }

    /// From the options: the file when one is given, else open to all.
    pub fn from_options(options: &AccessOptions) -> Result<Self, AccessError> {
        match &options.file {
            Some(path) => Self::from_file(path),
            None => Ok(Self::open_to_all()),
        }
    }

    /// True when an access file is in force.
    pub fn enforced(&self) -> bool {
        self.path.is_some()
    }

    /// The access file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What the file in force holds; `None` without an access file.
    pub fn loaded(&self) -> Option<Loaded> {
        self.current().loaded
    }

    /// Reads the file again. On success the new rules apply to every request from now on (a
    /// key whose rate did not change keeps its bucket); on error the previous rules stay.
    pub fn reload(&self) -> Result<Loaded, AccessError> {
        let Some(path) = &self.path else {
            return Ok(Loaded {
                tenants: 0,
                keys: 0,
                tokens: 0,
            });
        };
        let old = self.current();
        let policy = load(path, &old)?;
        let loaded = policy.loaded.unwrap_or(Loaded {
            tenants: 0,
            keys: 0,
            tokens: 0,
        });
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        Ok(loaded)
    }

    fn current(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Who may send with `key` from `origin` (the request's `Origin` header, absent outside
    /// browsers). Also refuses when the key's rate is already spent, before anything is read.
    pub fn sender(&self, key: Option<&str>, origin: Option<&str>) -> Result<Sender, IngestDenied> {
        if !self.enforced() {
            return Ok(Sender::default_tenant());
        }
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or(IngestDenied::MissingKey)?;
        let policy = self.current();
        let wanted = digest(key);
        let entry = find(&policy.keys, |e| &e.digest, &wanted).ok_or(IngestDenied::UnknownKey)?;
        if let (Some(allowed), Some(origin)) = (&entry.origins, origin)
            && !origin_allowed(allowed, origin)
        {
            return Err(IngestDenied::Origin {
                tenant: entry.tenant.clone(),
                origin: origin.to_owned(),
            });
        }
        if let Some(bucket) = &entry.bucket {
            bucket
                .check()
                .map_err(|retry_after| IngestDenied::RateLimited {
                    tenant: entry.tenant.clone(),
                    rate: bucket.rate(),
                    retry_after,
                })?;
        }
        Ok(Sender {
            tenant: entry.tenant.clone(),
            bucket: entry.bucket.clone(),
        })
    }

    /// Who may read with `token`. Without an access file, anyone reads the default tenant as
    /// admin (deletion then also asks for a loopback peer).
    pub fn reader(&self, token: Option<&str>) -> Result<Reader, ReadDenied> {
        if !self.enforced() {
            return Ok(Reader {
                tenant: Tenant::default_tenant(),
                role: Role::Admin,
            });
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(ReadDenied::MissingToken)?;
        let policy = self.current();
        let wanted = digest(token);
        let entry = find(&policy.tokens, |e| &e.digest, &wanted).ok_or(ReadDenied::UnknownToken)?;
        Ok(Reader {
            tenant: entry.tenant.clone(),
            role: entry.role,
        })
    }

    /// Whether some browser key is bound to `origin` (for CORS preflights).
    pub fn browser_origin(&self, origin: &str) -> bool {
        let policy = self.current();
        policy.any_origin || policy.origins.contains(&origin.to_ascii_lowercase())
    }
}

/// The entry whose digest equals `wanted`, comparing every entry in constant time.
fn find<'a, T>(entries: &'a [T], of: impl Fn(&T) -> &Digest, wanted: &Digest) -> Option<&'a T> {
    let mut found = None;
    for entry in entries {
        if same(of(entry), wanted) {
            found = Some(entry);
        }
    }
    found
}

fn origin_allowed(allowed: &[CorsOrigin], origin: &str) -> bool {
    allowed.iter().any(|a| match a {
        CorsOrigin::Any => true,
        CorsOrigin::Exact(exact) => exact.eq_ignore_ascii_case(origin),
    })
}

fn load(path: &Path, previous: &Policy) -> Result<Policy, AccessError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
        path: path.to_owned(),
        source,
    })?;
    let specs = file::parse(&text).map_err(|problem| AccessError::Invalid {
        path: path.to_owned(),
        problem: Box::new(problem),
    })?;
    Ok(policy(specs, previous))
}

fn policy(specs: Vec<TenantSpec>, previous: &Policy) -> Policy {
    let kept: HashMap<Digest, &Arc<Bucket>> = previous
        .keys
        .iter()
        .filter_map(|k| Some((k.digest, k.bucket.as_ref()?)))
        .collect();
    let mut policy = Policy {
        loaded: Some(Loaded {
            tenants: specs.len(),
            keys: 0,
            tokens: 0,
        }),
        ..Policy::default()
    };
    for spec in specs {
        for key in spec.ingest_keys {
            for origin in key.origins.iter().flatten() {
                match origin {
                    CorsOrigin::Any => policy.any_origin = true,
                    CorsOrigin::Exact(o) => {
                        policy.origins.insert(o.clone());
                    }
                }
            }
            let bucket = key.rate.map(|rate| match kept.get(&key.digest) {
                Some(bucket) if bucket.rate() == rate => Arc::clone(bucket),
                _ => Arc::new(Bucket::new(rate)),
            });
            policy.keys.push(KeyEntry {
                tenant: spec.tenant.clone(),
                digest: key.digest,
                origins: key.origins,
                bucket,
            });
        }
        for token in spec.read_tokens {
            policy.tokens.push(TokenEntry {
                tenant: spec.tenant.clone(),
                digest: token.digest,
                role: token.role,
            });
        }
    }
    if let Some(loaded) = &mut policy.loaded {
        loaded.keys = policy.keys.len();
        loaded.tokens = policy.tokens.len();
    }
    policy
}

#[cfg(test)]
mod tests;
