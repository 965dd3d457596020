//! Access files for tests: tenants with a backend ingest key and a read token, written in the
//! format the collector reads (`--access`).

use tracewire_collector::access::keys::digest;

/// The hex SHA-256 of a secret, as the access file holds it.
pub fn sha256(secret: &str) -> String {
    hex::encode(digest(secret))
}

/// One tenant's `[[tenants]]` block: a backend key, and a read token of `role` (`read` or
/// `admin`).
pub fn tenant(id: &str, key: &str, token: &str, role: &str) -> String {
    format!(
        "[[tenants]]\nid = \"{id}\"\n\
         [[tenants.ingest_keys]]\nkey_sha256 = \"{}\"\n\
         [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\nrole = \"{role}\"\n",
        sha256(key),
        sha256(token)
    )
}
