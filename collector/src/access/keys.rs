//! Secrets: new random keys and tokens (`tracewire-collector keys new`), their SHA-256 digests,
//! and comparison of digests in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a new secret (256 bits).
const SECRET_BYTES: usize = 32;

/// The SHA-256 of a key or token.
pub type Digest = [u8; 32];

/// The SHA-256 of `secret`'s UTF-8 bytes.
pub fn digest(secret: &str) -> Digest {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two digests are equal, taking the same time wherever they differ.
pub fn same(a: &Digest, b: &Digest) -> bool {
    bool::from(a.ct_eq(b))
}

/// Parses 64 hex characters into a digest.
pub fn parse_digest(hex_text: &str) -> Option<Digest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text.trim(), &mut out).ok()?;
    Some(out)
}

/// What a new secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretKind {
    /// A browser ingest key: public, written in clear and bound to origins.
    Browser,
    /// A backend ingest key: secret, stored as its SHA-256.
    #[default]
    Backend,
    /// A read token for the query API and the live tail, stored as its SHA-256.
    Read,
    /// A read token that may also delete, stored as its SHA-256.
    Admin,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Browser => "twpk_",
            Self::Backend => "twsk_",
            Self::Read => "twrt_",
            Self::Admin => "twat_",
        }
    }
}

/// `tracewire-collector keys new`: which kind of secret to make (a backend key by default).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[group(multiple = false)]
pub struct NewSecretArgs {
    /// A browser ingest key (public; written in clear, bound to the pages' origins).
    #[arg(long)]
    pub browser: bool,
    /// A backend ingest key (secret; the file holds its SHA-256) [the default].
    #[arg(long)]
    pub backend: bool,
    /// A read token for the query API and the UI (the file holds its SHA-256).
    #[arg(long)]
    pub read: bool,
    /// An admin token: reads, and deletes users' and sessions' data.
    #[arg(long)]
    pub admin: bool,
}

impl NewSecretArgs {
    /// The kind asked for.
    pub fn kind(&self) -> SecretKind {
        if self.browser {
            SecretKind::Browser
        } else if self.read {
            SecretKind::Read
        } else if self.admin {
            SecretKind::Admin
        } else {
            SecretKind::Backend
        }
    }
}

/// A new random secret of `kind`, e.g. `twsk_` and 43 URL-safe characters.
pub fn new_secret(kind: SecretKind) -> Result<String, rand::rand_core::OsError> {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.try_fill_bytes(&mut bytes)?;
    Ok(format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What `keys new` prints: the secret, then the access-file lines that grant it.
pub fn instructions(kind: SecretKind, secret: &str) -> String {
    let hash = hex::encode(digest(secret));
    match kind {
        SecretKind::Browser => format!(
            "{secret}\n\n\
             # A browser key is public: give it to the SDK (`ingestKey`). Paste under your tenant's\n\
             # [[tenants]] in the access file, with the origins of the pages that send:\n\
             [[tenants.ingest_keys]]\n\
             key = \"{secret}\"\n\
             origins = [\"https://app.example.com\"]\n\
             # rate = \"500/s\"\n"
        ),
        SecretKind::Backend => format!(
            "{secret}\n\n\
             # A backend key is secret: give it to your services, e.g.\n\
             #   OTEL_EXPORTER_OTLP_HEADERS=x-tracewire-key={secret}\n\
             # Paste under your tenant's [[tenants]] in the access file (it holds the SHA-256 only):\n\
             [[tenants.ingest_keys]]\n\
             key_sha256 = \"{hash}\"\n"
        ),
        SecretKind::Read | SecretKind::Admin => format!(
            "{secret}\n\n\
             # A {role} token is secret: give it to the UI's sign-in or send it as\n\
             #   Authorization: Bearer {secret}\n\
             # Paste under your tenant's [[tenants]] in the access file (it holds the SHA-256 only):\n\
             [[tenants.read_tokens]]\n\
             token_sha256 = \"{hash}\"\n\
             role = \"{role}\"\n",
            role = if kind == SecretKind::Admin {
                "admin"
            } else {
                "read"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_url_safe() {
        let a = new_secret(SecretKind::Backend).expect("random");
        let b = new_secret(SecretKind::Backend).expect("random");
        assert_ne!(a, b);
        assert!(a.starts_with("twsk_") && a.len() == 5 + 43, "{a}");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        );
        assert!(
            new_secret(SecretKind::Browser)
                .expect("random")
                .starts_with("twpk_")
        );
    }

    #[test]
    fn digests_are_sha256_and_compare_by_value() {
        // sha256("abc"), FIPS 180-2 appendix B.1.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex::encode(digest("abc")), abc);
        let parsed = parse_digest(abc).expect("hex");
        assert!(same(&parsed, &digest("abc")));
        assert!(!same(&parsed, &digest("abd")));
        assert!(parse_digest("abc").is_none());
        assert!(parse_digest(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn instructions_hold_the_hash_of_secret_kinds_and_the_key_of_browser_ones() {
        let secret = "twsk_example";
        let text = instructions(SecretKind::Backend, secret);
        assert!(text.starts_with("twsk_example\n"), "{text}");
        assert!(text.contains(&hex::encode(digest(secret))), "{text}");
        assert!(!text.contains("key = "), "{text}");
        let text = instructions(SecretKind::Admin, "twat_x");
        assert!(text.contains("role = \"admin\""), "{text}");
        let text = instructions(SecretKind::Browser, "twpk_x");
        assert!(text.contains("key = \"twpk_x\"") && text.contains("origins = ["));
    }
}
