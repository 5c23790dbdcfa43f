//! A data file's name carries the checksum of its bytes (`<stem>-<16 hex>.parquet`),
//! so every read can tell a damaged, truncated or swapped file from a good one
//! before a byte of it is decoded: a Parquet decoder given damaged bytes may panic
//! or, worse, return other numbers.
//!
//! The 16 hex digits are the first 8 bytes of the content's SHA-256. Stores written
//! before that named files by a SipHash-1-3 of the content (Rust's `DefaultHasher`,
//! keys 0); such a name is still accepted when that hash matches, so a store needs
//! no migration, and its files are renamed as their months are rewritten.
use crate::error::{ErrorKind, KocError};
use sha2::{Digest, Sha256};
use std::hash::Hasher;
use std::path::Path;

/// The 16 hex digits that name a file of these bytes.
pub fn content_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash named in a data file's name (`<stem>-<16 hex>.parquet`), if it has one.
fn named_hex(rel: &str) -> Option<&str> {
    let name = rel.rsplit('/').next()?;
    let stem = name.strip_suffix(".parquet")?;
    let (_, hex) = stem.rsplit_once('-')?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Whether `bytes` are the content the name `rel` promises.
pub fn matches(rel: &str, bytes: &[u8]) -> bool {
    let Some(hex) = named_hex(rel) else {
        return false;
    };
    if content_hex(bytes) == hex {
        return true;
    }
    let mut legacy = std::hash::DefaultHasher::new();
    legacy.write(bytes);
    format!("{:016x}", legacy.finish()) == hex
}

/// `bytes` read from the store file `path` (named `rel`), or the error that names it
/// and the repair.
pub fn verify(path: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
    if matches(rel, bytes) {
        return Ok(());
    }
    Err(damaged(path, "its bytes do not match the checksum in its name").into())
}

/// The error for a store file that cannot be used as it is.
pub fn damaged(path: &Path, why: &str) -> KocError {
    KocError::new(
        ErrorKind::Runtime,
        format!("the store file {} is damaged or misplaced: {why}", path.display()),
    )
    .with_hint(
        "restore the store folder from a backup, or move it aside and run `koc ingest` again from every \
         export; `koc check-store PIPELINE` lists every damaged file",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_holds_the_first_eight_bytes_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea 414140de5dae2223…
        assert_eq!(content_hex(b"abc"), "ba7816bf8f01cfea");
        assert!(matches("events/month=2025-01/part-ba7816bf8f01cfea.parquet", b"abc"));
    }

    #[test]
    fn one_flipped_bit_or_other_bytes_do_not_match() {
        let rel = format!("tables/members-{}.parquet", content_hex(b"hello world"));
        assert!(matches(&rel, b"hello world"));
        assert!(!matches(&rel, b"hello worle"));
        assert!(!matches(&rel, b"hello world "));
        assert!(!matches(&rel, b""));
        assert!(!matches("tables/members.parquet", b"hello world"));
    }

    #[test]
    fn names_of_earlier_stores_are_still_verified() {
        let mut h = std::hash::DefaultHasher::new();
        h.write(b"old bytes");
        let rel = format!("events/month=2024-12/part-{:016x}.parquet", h.finish());
        assert!(matches(&rel, b"old bytes"));
        assert!(!matches(&rel, b"old bytez"));
        let err = verify(Path::new("/s/x.parquet"), &rel, b"old bytez").unwrap_err();
        assert!(err.to_string().contains("/s/x.parquet is damaged"), "{err}");
    }
}
