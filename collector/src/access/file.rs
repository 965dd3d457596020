//! The access file's format, read level by level so that every problem names its place: the
//! tenant (by id, or by position when the id is the problem), the key or token by its index,
//! and the field.
//!
//! ```toml
//! [[tenants]]
//! id = "acme"                          # 1-64 of [a-z0-9_-]
//!
//! [[tenants.ingest_keys]]              # a browser key: public, bound to origins
//! key = "twpk_..."
//! origins = ["https://app.acme.com"]   # required for a key written in clear
//! rate = "500/s"                       # optional: spans + log records per second (burst 2x)
//!
//! [[tenants.ingest_keys]]              # a backend key: secret, stored hashed
//! key_sha256 = "<hex sha256 of the key>"
//!
//! [[tenants.read_tokens]]
//! token_sha256 = "<hex sha256 of the token>"
//! role = "read"                        # "read" or "admin" (admin may also delete)
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Role;
use super::keys::{Digest, digest, parse_digest};
use super::rate::Rate;
use super::tenant::Tenant;
use crate::config::CorsOrigin;

/// Shortest key accepted in clear: short keys are easy to guess and to collide.
const MIN_KEY_LEN: usize = 16;
/// Longest key accepted.
const MAX_KEY_LEN: usize = 256;

/// Where in the file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    tenant: Option<String>,
    tenant_index: usize,
    entry: Option<(&'static str, usize)>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tenant {
            Some(id) => write!(f, "tenant \"{id}\"")?,
            None => write!(f, "tenants[{}]", self.tenant_index)?,
        }
        if let Some((list, index)) = self.entry {
            write!(f, " {list}[{index}]")?;
        }
        Ok(())
    }
}

/// What is wrong with an access file, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// Not TOML, or no `[[tenants]]`.
    #[error("{0}")]
    Syntax(String),
    /// A value is missing or not accepted.
    #[error("{place}: {field}: {message}")]
    Invalid {
        /// The tenant and key or token.
        place: Place,
        /// The field, as spelled in the file.
        field: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

/// One tenant as the file grants it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    /// The tenant.
    pub tenant: Tenant,
    /// Its ingest keys, in file order.
    pub ingest_keys: Vec<IngestKeySpec>,
    /// Its read tokens, in file order.
    pub read_tokens: Vec<ReadTokenSpec>,
}

/// An ingest key as the file grants it.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestKeySpec {
    /// SHA-256 of the key (computed for keys written in clear).
    pub digest: Digest,
    /// Origins a browser may send from with this key; `None` for any (backend keys).
    pub origins: Option<Vec<CorsOrigin>>,
    /// Spans plus log records per second at most.
    pub rate: Option<Rate>,
}

/// A read token as the file grants it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadTokenSpec {
    /// SHA-256 of the token.
    pub digest: Digest,
    /// What it may do.
    pub role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantToml {
    id: String,
    #[serde(default)]
    ingest_keys: Vec<toml::Value>,
    #[serde(default)]
    read_tokens: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestKeyToml {
    key: Option<String>,
    key_sha256: Option<String>,
    origins: Option<Vec<String>>,
    rate: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadTokenToml {
    token_sha256: String,
    role: Option<String>,
}

/// Parses and validates the text of an access file.
pub fn parse(text: &str) -> Result<Vec<TenantSpec>, FileProblem> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start].matches('\n').count() + 1);
        let message = e.message().trim().replace('\n', " ");
        FileProblem::Syntax(match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        })
    })?;
    let tenants = match table.remove("tenants") {
        Some(toml::Value::Array(tenants)) if !tenants.is_empty() => tenants,
        Some(toml::Value::Array(_)) | None => {
            return Err(FileProblem::Syntax(
                "no [[tenants]]; the file grants access per tenant".into(),
            ));
        }
        Some(_) => {
            return Err(FileProblem::Syntax(
                "`tenants` must be an array of tables: write [[tenants]]".into(),
            ));
        }
    };
    if let Some(key) = table.keys().next() {
        return Err(FileProblem::Syntax(format!(
            "unknown top-level key `{key}`; the file holds [[tenants]] only"
        )));
    }
    let mut specs = Vec::with_capacity(tenants.len());
    let mut ids = BTreeSet::new();
    let mut digests: HashMap<Digest, Place> = HashMap::new();
    for (index, value) in tenants.into_iter().enumerate() {
        let mut place = Place {
            tenant: None,
            tenant_index: index,
            entry: None,
        };
        let raw: TenantToml = typed(value, &place)?;
        let tenant = Tenant::from_id(&raw.id).map_err(|message| invalid(&place, "id", message))?;
        place.tenant = Some(raw.id.clone());
        if !ids.insert(raw.id.clone()) {
            return Err(invalid(
                &place,
                "id",
                "appears twice; give each tenant one [[tenants]]",
            ));
        }
        let mut spec = TenantSpec {
            tenant,
            ingest_keys: Vec::new(),
            read_tokens: Vec::new(),
        };
        for (i, value) in raw.ingest_keys.into_iter().enumerate() {
            let place = Place {
                entry: Some(("ingest_keys", i)),
                ..place.clone()
            };
            let key = ingest_key(typed(value, &place)?, &place)?;
            unique(&mut digests, key.digest, &place)?;
            spec.ingest_keys.push(key);
        }
        for (i, value) in raw.read_tokens.into_iter().enumerate() {
            let place = Place {
                entry: Some(("read_tokens", i)),
                ..place.clone()
            };
            let token = read_token(typed(value, &place)?, &place)?;
            unique(&mut digests, token.digest, &place)?;
            spec.read_tokens.push(token);
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Deserializes one table, naming its place when a field is unknown or of the wrong type.
fn typed<T: DeserializeOwned>(value: toml::Value, place: &Place) -> Result<T, FileProblem> {
    T::deserialize(value).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        // serde names the field in its message (`unknown field `x``, `missing field `y``).
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains("field"))
            .unwrap_or("-")
            .to_owned();
        FileProblem::Invalid {
            place: place.clone(),
            field,
            message,
        }
    })
}

fn invalid(place: &Place, field: &str, message: impl Into<String>) -> FileProblem {
    FileProblem::Invalid {
        place: place.clone(),
        field: field.to_owned(),
        message: message.into(),
    }
}

fn unique(
    seen: &mut HashMap<Digest, Place>,
    digest: Digest,
    place: &Place,
) -> Result<(), FileProblem> {
    if let Some(first) = seen.insert(digest, place.clone()) {
        return Err(invalid(
            place,
            "key",
            format!(
                "the same secret is already granted at {first}; each key and token is granted once"
            ),
        ));
    }
    Ok(())
}

fn ingest_key(raw: IngestKeyToml, place: &Place) -> Result<IngestKeySpec, FileProblem> {
    let (digest, clear) = match (&raw.key, &raw.key_sha256) {
        (Some(key), None) => {
            check_key(key).map_err(|m| invalid(place, "key", m))?;
            (digest(key), true)
        }
        (None, Some(hash)) => (
            parse_digest(hash).ok_or_else(|| {
                invalid(
                    place,
                    "key_sha256",
                    "must be 64 hex characters: the SHA-256 of the key (`tracewire-collector keys new` prints it)",
                )
            })?,
            false,
        ),
        (Some(_), Some(_)) => {
            return Err(invalid(
                place,
                "key",
                "give either key (a public browser key) or key_sha256 (a secret key), not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                place,
                "key",
                "missing: give key (a public browser key) or key_sha256 (a secret key)",
            ));
        }
    };
    let origins = match raw.origins {
        None if clear => {
            return Err(invalid(
                place,
                "origins",
                "required for a key written in clear: list the pages' origins, e.g. [\"https://app.example.com\"]",
            ));
        }
        None => None,
        Some(list) if list.is_empty() => {
            return Err(invalid(
                place,
                "origins",
                "is empty, so no page could use the key; list at least one origin",
            ));
        }
        Some(list) => Some(
            list.iter()
                .map(|o| o.parse::<CorsOrigin>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| invalid(place, "origins", m))?,
        ),
    };
    let rate = raw
        .rate
        .map(|r| r.parse::<Rate>())
        .transpose()
        .map_err(|m| invalid(place, "rate", m))?;
    Ok(IngestKeySpec {
        digest,
        origins,
        rate,
    })
}

fn check_key(key: &str) -> Result<(), String> {
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
        return Err(format!(
            "must be {MIN_KEY_LEN} to {MAX_KEY_LEN} characters; `tracewire-collector keys new --browser` makes one"
        ));
    }
    if !key
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'~'))
    {
        return Err(
            "may hold only letters, digits and _ - . ~ (it travels in URLs as ?key=)".into(),
        );
    }
    Ok(())
}

fn read_token(raw: ReadTokenToml, place: &Place) -> Result<ReadTokenSpec, FileProblem> {
    let digest = parse_digest(&raw.token_sha256).ok_or_else(|| {
        invalid(
            place,
            "token_sha256",
            "must be 64 hex characters: the SHA-256 of the token (`tracewire-collector keys new --read` prints it)",
        )
    })?;
    let role = match raw.role.as_deref() {
        None | Some("read") => Role::Read,
        Some("admin") => Role::Admin,
        Some(other) => {
            return Err(invalid(
                place,
                "role",
                format!("'{other}' is not a role; use \"read\" or \"admin\""),
            ));
        }
    };
    Ok(ReadTokenSpec { digest, role })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn problem(text: &str) -> String {
        parse(text).expect_err("refused").to_string()
    }

    #[test]
    fn the_documented_example_parses() {
        let text = format!(
            "[[tenants]]\nid = \"acme\"\n\n\
             [[tenants.ingest_keys]]\nkey = \"twpk_0123456789abcdef\"\norigins = [\"https://app.acme.com\"]\nrate = \"500/s\"\n\n\
             [[tenants.ingest_keys]]\nkey_sha256 = \"{HASH}\"\n\n\
             [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\nrole = \"admin\"\n\n\
             [[tenants]]\nid = \"default\"\n",
            "0".repeat(64)
        );
        let specs = parse(&text).expect("valid");
        assert_eq!(specs.len(), 2);
        let acme = &specs[0];
        assert_eq!(acme.tenant.id(), "acme");
        assert_eq!(acme.ingest_keys[0].digest, digest("twpk_0123456789abcdef"));
        assert_eq!(
            acme.ingest_keys[0].origins,
            Some(vec![CorsOrigin::Exact("https://app.acme.com".into())])
        );
        assert_eq!(acme.ingest_keys[0].rate.map(Rate::per_second), Some(500.0));
        assert_eq!(acme.ingest_keys[1].origins, None);
        assert_eq!(acme.read_tokens[0].role, Role::Admin);
        assert!(specs[1].tenant.is_default());
    }

    #[test]
    fn problems_name_the_tenant_the_key_index_and_the_field() {
        let base = "[[tenants]]\nid = \"acme\"\n[[tenants.ingest_keys]]\nkey_sha256 = \"";
        let text =
            format!("{base}{HASH}\"\n[[tenants.ingest_keys]]\nkey = \"twpk_0123456789abcdef\"\n");
        assert_eq!(
            problem(&text),
            "tenant \"acme\" ingest_keys[1]: origins: required for a key written in clear: list the pages' origins, e.g. [\"https://app.example.com\"]"
        );
        let text = format!("{base}{HASH}\"\norigns = [\"x\"]\n");
        let text = problem(&text);
        assert!(
            text.starts_with("tenant \"acme\" ingest_keys[0]: origns: unknown field"),
            "{text}"
        );
        let text = format!("{base}abc\"\n");
        assert!(
            problem(&text)
                .starts_with("tenant \"acme\" ingest_keys[0]: key_sha256: must be 64 hex"),
        );
        let text = "[[tenants]]\nid = \"acme\"\n[[tenants.read_tokens]]\ntoken_sha256 = \""
            .to_owned()
            + HASH
            + "\"\nrole = \"owner\"\n";
        assert!(problem(&text).starts_with("tenant \"acme\" read_tokens[0]: role: 'owner'"));
        assert!(
            problem("[[tenants]]\nid = \"Acme!\"\n").starts_with("tenants[0]: id: "),
            "{}",
            problem("[[tenants]]\nid = \"Acme!\"\n")
        );
        let text = format!("{base}{HASH}\"\nrate = \"fast\"\n");
        assert!(problem(&text).starts_with("tenant \"acme\" ingest_keys[0]: rate: 'fast'"));
    }

    #[test]
    fn a_secret_granted_twice_and_a_tenant_given_twice_are_refused() {
        let key = format!("[[tenants.ingest_keys]]\nkey_sha256 = \"{HASH}\"\n");
        let text = format!("[[tenants]]\nid = \"a\"\n{key}[[tenants]]\nid = \"b\"\n{key}");
        assert_eq!(
            problem(&text)
                .split(':')
                .take(2)
                .collect::<Vec<_>>()
                .join(":"),
            "tenant \"b\" ingest_keys[0]: key"
        );
        assert!(
            problem("[[tenants]]\nid = \"a\"\n[[tenants]]\nid = \"a\"\n").contains("appears twice")
        );
    }

    #[test]
    fn syntax_errors_and_empty_files_say_what_is_wrong() {
        assert!(problem("").contains("no [[tenants]]"));
        assert!(problem("tenants = 3").contains("[[tenants]]"));
        assert!(
            problem("[[tenants]]\nid = \"a\"\n[other]\n").contains("unknown top-level key `other`")
        );
        assert!(problem("[[tenants]\n").starts_with("line 1:"));
        assert!(problem("[[tenants]]\n").contains("missing field `id`"));
    }

    #[test]
    fn clear_keys_must_be_long_and_url_safe_and_origins_exact() {
        let key = |k: &str, origins: &str| {
            format!(
                "[[tenants]]\nid = \"a\"\n[[tenants.ingest_keys]]\nkey = \"{k}\"\norigins = {origins}\n"
            )
        };
        assert!(problem(&key("short", "[\"https://a.b\"]")).contains("16 to 256"));
        assert!(
            problem(&key("twpk_0123456789ab&cd", "[\"https://a.b\"]")).contains("only letters")
        );
        assert!(problem(&key("twpk_0123456789abcd", "[]")).contains("origins: is empty"));
        assert!(problem(&key("twpk_0123456789abcd", "[\"a.b\"]")).contains("origins: 'a.b'"));
        assert!(parse(&key("twpk_0123456789abcd", "[\"*\"]")).is_ok());
    }
}
