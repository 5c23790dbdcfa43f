//! Writing the store's files: whole or not at all. The bytes go to a temp file in the
//! target's folder, which is synced and renamed over the target; then the folder
//! itself is synced, so after a power loss the rename is on disk before anything
//! written after it (the manifest is written last and names only synced files).
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Write bytes to a temp file in the target's folder, then rename over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path without a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp")
        .permissions(file_mode())
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    sync_dir(dir).with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// Make a folder's entries (a rename into it) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Files koc creates are 0644 less the umask (SPEC §11), as `std::fs::write` makes them;
/// temp files would otherwise be 0600.
pub fn file_mode() -> std::fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o644)
}

/// Folders koc creates are 0755 less the umask.
pub fn dir_mode() -> std::fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o755)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files of every size read back as written, replacing what was there, with the
    /// mode every koc file has, and no temp file left beside them.
    #[test]
    fn files_are_written_whole_at_every_size() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        for n in [0, 5, 4096, (9 << 20) + 7, 3] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            write_atomic(&path, &bytes).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{n} bytes");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o022, 0o644 & !0o022, "{n} bytes");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{n} bytes");
        }
    }
}
