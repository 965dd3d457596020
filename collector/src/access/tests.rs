use std::path::Path;

use super::keys::digest;
use super::*;

const BROWSER: &str = "twpk_browser_key_0001";
const BACKEND: &str = "twsk_backend_secret_0001";
const READ: &str = "twrt_read_token_0001";
const ADMIN: &str = "twat_admin_token_0001";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write access file");
}

fn two_tenants(rate: &str) -> String {
    format!(
        "[[tenants]]\nid = \"acme\"\n\
         [[tenants.ingest_keys]]\nkey = \"{BROWSER}\"\norigins = [\"https://app.acme.com\"]\nrate = \"{rate}\"\n\
         [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\n\
         [[tenants]]\nid = \"globex\"\n\
         [[tenants.ingest_keys]]\nkey_sha256 = \"{}\"\n\
         [[tenants.read_tokens]]\ntoken_sha256 = \"{}\"\nrole = \"admin\"\n",
        hex::encode(digest(READ)),
        hex::encode(digest(BACKEND)),
        hex::encode(digest(ADMIN)),
    )
}

fn loaded(rate: &str) -> (tempfile::TempDir, Access) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.toml");
    write(&path, &two_tenants(rate));
    let access = Access::from_file(&path).expect("valid");
    (dir, access)
}

#[test]
fn without_a_file_everything_is_the_default_tenants() {
    let access = Access::open_to_all();
    assert!(!access.enforced());
    let sender = access.sender(None, Some("https://anywhere")).expect("open");
    assert!(sender.tenant.is_default());
    assert_eq!(sender.take(1_000_000), Ok(()));
    let reader = access.reader(None).expect("open");
    assert_eq!((reader.tenant.id(), reader.role), ("default", Role::Admin));
}

#[test]
fn keys_resolve_to_their_tenant_and_browser_keys_to_their_origins_only() {
    let (_dir, access) = loaded("500/s");
    assert_eq!(
        access.sender(None, None).expect_err("refused"),
        IngestDenied::MissingKey
    );
    assert_eq!(
        access.sender(Some(""), None).expect_err("refused"),
        IngestDenied::MissingKey
    );
    assert_eq!(
        access
            .sender(Some("twsk_guess"), None)
            .expect_err("refused"),
        IngestDenied::UnknownKey
    );
    let browser = access
        .sender(Some(BROWSER), Some("https://APP.acme.com"))
        .expect("bound origin");
    assert_eq!(browser.tenant.id(), "acme");
    assert!(
        access.sender(Some(BROWSER), None).is_ok(),
        "no Origin: not a browser"
    );
    let denied = access
        .sender(Some(BROWSER), Some("https://evil.example"))
        .expect_err("refused");
    assert_eq!(denied.reason(), "origin");
    assert_eq!(denied.tenant().map(Tenant::id), Some("acme"));
    let backend = access
        .sender(Some(BACKEND), Some("https://evil.example"))
        .expect("backend keys have no origins");
    assert_eq!(backend.tenant.id(), "globex");
}

#[test]
fn tokens_resolve_to_their_tenant_and_role() {
    let (_dir, access) = loaded("500/s");
    assert_eq!(access.reader(None), Err(ReadDenied::MissingToken));
    assert_eq!(access.reader(Some(BACKEND)), Err(ReadDenied::UnknownToken));
    let read = access.reader(Some(READ)).expect("granted");
    assert_eq!((read.tenant.id(), read.role), ("acme", Role::Read));
    let admin = access.reader(Some(ADMIN)).expect("granted");
    assert_eq!((admin.tenant.id(), admin.role), ("globex", Role::Admin));
}

#[test]
fn a_spent_rate_refuses_before_and_after_decoding() {
    let (_dir, access) = loaded("5/s");
    let sender = access.sender(Some(BROWSER), None).expect("granted");
    assert_eq!(sender.take(10), Ok(()));
    let after = sender.take(1).expect_err("refused");
    assert_eq!(after.reason(), "rate_limited");
    let before = access.sender(Some(BROWSER), None).expect_err("refused");
    let IngestDenied::RateLimited { retry_after, .. } = before else {
        panic!("{before:?}")
    };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
}

#[test]
fn reload_applies_a_valid_file_and_keeps_the_previous_one_on_error() {
    let (dir, access) = loaded("5/s");
    let path = dir.path().join("access.toml");
    let sender = access.sender(Some(BROWSER), None).expect("granted");
    assert_eq!(sender.take(10), Ok(()));

    write(&path, "[[tenants]]\nid = \"Not Valid\"\n");
    let err = access.reload().expect_err("invalid");
    assert!(err.to_string().contains("tenants[0]: id:"), "{err}");
    assert!(
        access.reader(Some(READ)).is_ok(),
        "the old file stays in force"
    );

    // The same key with the same rate keeps its (spent) bucket; a key removed is refused.
    let text = two_tenants("5/s").replace(&hex::encode(digest(BACKEND)), &"0".repeat(64));
    write(&path, &text);
    let loaded = access.reload().expect("valid");
    assert_eq!((loaded.tenants, loaded.keys, loaded.tokens), (2, 2, 2));
    assert_eq!(
        access
            .sender(Some(BROWSER), None)
            .expect_err("refused")
            .reason(),
        "rate_limited"
    );
    assert_eq!(
        access.sender(Some(BACKEND), None).expect_err("refused"),
        IngestDenied::UnknownKey
    );

    // A new rate starts a new, full bucket.
    write(&path, &two_tenants("50/s"));
    access.reload().expect("valid");
    assert!(access.sender(Some(BROWSER), None).is_ok());
    assert!(access.sender(Some(BACKEND), None).is_ok(), "added back");
}

#[test]
fn cors_allows_the_union_of_browser_key_origins() {
    let (dir, access) = loaded("5/s");
    assert!(access.browser_origin("https://app.acme.com"));
    assert!(!access.browser_origin("https://evil.example"));
    let path = dir.path().join("access.toml");
    let any = two_tenants("5/s").replace("https://app.acme.com", "*");
    write(&path, &any);
    access.reload().expect("valid");
    assert!(access.browser_origin("https://evil.example"));
    assert!(!Access::open_to_all().browser_origin("https://app.acme.com"));
}

#[test]
fn a_missing_file_names_the_option_and_the_path() {
    let err = Access::from_file(Path::new("/nonexistent/access.toml")).expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("--access: cannot read /nonexistent/access.toml"),
        "{err}"
    );
}
