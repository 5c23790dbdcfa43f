//! What the store folder may hold and which files koc wrote (it deletes only those);
//! reading one of its files (a regular file only); no output of a command inside it.
use crate::error::KocError;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Entries a store folder may hold besides `events/` and `tables/`.
pub(super) const OWN_ENTRIES: [&str; 9] = [
    ".lock",
    "manifest.json",
    "history.parquet",
    "events",
    "tables",
    "runs",
    "rejects",
    ".tmp",
    ".DS_Store",
];

/// A file under `events/` or `tables/`, and whether koc wrote it.
pub(super) struct Entry {
    pub(super) path: PathBuf,
    pub(super) owned: bool,
}

/// Every file and symlink below `root`, without following symlinks. koc's own: a
/// regular file named `<stem>-<16 hex>.parquet` (in `month=YYYY-MM/` under events),
/// or a temp file of an interrupted atomic write (`.tmp…`).
pub(super) fn walk(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    if std::fs::symlink_metadata(root).is_err() {
        return Ok(out);
    }
    if std::fs::symlink_metadata(root)?.file_type().is_symlink() {
        out.push(Entry {
            path: root.to_path_buf(),
            owned: false,
        });
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                let name = entry.file_name().to_string_lossy().to_string();
                if d == root && root.ends_with("events") && !is_month_folder(&name) {
                    out.push(Entry { path, owned: false });
                } else {
                    stack.push(path);
                }
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let owned = kind.is_file() && (is_data_file_name(&name) || name.starts_with(".tmp"));
            out.push(Entry { path, owned });
        }
    }
    Ok(out)
}

pub(super) fn is_month_folder(name: &str) -> bool {
    name.strip_prefix("month=")
        .is_some_and(|m| m.len() == 7 && m.as_bytes()[4] == b'-' && m.bytes().filter(u8::is_ascii_digit).count() == 6)
}

/// `<stem>-<16 hex>.parquet`: the name `write_frame` gives.
pub(super) fn is_data_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".parquet") else {
        return false;
    };
    match stem.rsplit_once('-') {
        Some((head, hash)) => !head.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

pub(super) fn remove_empty_dirs(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                remove_empty_dirs(&p);
                let _ = std::fs::remove_dir(&p);
            }
        }
    }
}

/// Refuse an output path inside the store folder (`--out` of simulate or a stage):
/// the store holds only what its own commands write, and the next ingest would
/// refuse or delete anything else. Links and `..` are resolved first.
pub fn refuse_output_inside(store_dir: &Path, out: &Path, option: &str) -> Result<()> {
    let resolve = |p: &Path| -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // the deepest part that exists is resolved (links, `..`); the rest kept as given
        let mut head = abs.as_path();
        let mut tail = Vec::new();
        loop {
            if let Ok(real) = head.canonicalize() {
                return tail.iter().rev().fold(real, |acc: PathBuf, part| acc.join(part));
            }
            match (head.parent(), head.file_name()) {
                (Some(parent), Some(name)) => {
                    tail.push(name.to_os_string());
                    head = parent;
                }
                _ => return abs,
            }
        }
    };
    let store = resolve(store_dir);
    let target = resolve(out);
    if target.starts_with(&store) {
        return Err(KocError::usage(format!(
            "{option} {} is inside the store {}: koc never writes its outputs there",
            out.display(),
            store_dir.display()
        ))
        .with_hint(format!("give {option} a path outside {}", store_dir.display()))
        .into());
    }
    Ok(())
}

/// The bytes of a store file: a regular file koc wrote (a link, folder or device in
/// its place is an error naming it, as is a missing file).
pub(crate) fn read_regular(path: &Path) -> Result<Vec<u8>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(_) => return Err(super::checksum::damaged(path, "it is not a regular file").into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(super::checksum::damaged(path, "the manifest names it but it is missing").into())
        }
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
