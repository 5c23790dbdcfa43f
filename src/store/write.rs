//! Writing the store's files: whole or not at all (a temp file renamed over the
//! target), big ones past the page cache.
use anyhow::{Context, Result};
use std::fs::File;
use std::path::Path;

/// Write bytes to a temp file in the target's folder, then rename over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path without a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp")
        .permissions(file_mode())
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    if bytes.len() < DIRECT_FROM || write_direct(tmp.as_file(), bytes).is_err() {
        // a small file, or a file system without O_DIRECT
        write_through_cache(tmp.as_file(), bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Files of at least this size are written past the page cache (`write_direct`).
const DIRECT_FROM: usize = 1 << 20;

/// Write `bytes` into the empty `file` with O_DIRECT: the disk takes them from koc's
/// memory, not from a copy in the kernel's page cache. An ingest writes hundreds of MB
/// of partitions and key files, and copying them into freshly allocated cache pages
/// took about a core-second at 20 M events. Whole 4 KiB blocks go from an aligned
/// buffer, a piece at a time; the last partial block through the page cache. The flag
/// is set on the file's own descriptor (not by opening its path again) and cleared
/// before this returns, whatever happened.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn write_direct(file: &File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;
    const BLOCK: usize = 4096;
    const PIECE: usize = 4 << 20;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` owns and keeps open, reading or setting its
    // status flags only
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_DIRECT) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let whole = bytes.len() / BLOCK * BLOCK;
    let written = (|| -> std::io::Result<()> {
        let mut aligned = vec![0u8; PIECE.min(whole) + BLOCK];
        let skip = aligned.as_ptr().align_offset(BLOCK);
        let piece = &mut aligned[skip..skip + PIECE.min(whole)];
        let mut at = 0;
        while at < whole {
            let n = PIECE.min(whole - at);
            piece[..n].copy_from_slice(&bytes[at..at + n]);
            file.write_all_at(&piece[..n], at as u64)?;
            at += n;
        }
        Ok(())
    })();
    // SAFETY: as above
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    written?;
    file.write_all_at(&bytes[whole..], whole as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn write_direct(_file: &File, _bytes: &[u8]) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Write `bytes` as the whole of `file` through the page cache (what was written
/// before, by a direct write that failed half way, is cut off first).
fn write_through_cache(file: &File, bytes: &[u8]) -> std::io::Result<()> {
    file.set_len(0)?;
    std::os::unix::fs::FileExt::write_all_at(file, bytes, 0)
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

    /// Files below, at and past the size written with O_DIRECT, with and without a
    /// partial last block, over several pieces: each reads back as written, replacing
    /// what was there, with the mode every koc file has.
    #[test]
    fn files_are_written_whole_at_every_size() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        for n in [
            0,
            5,
            DIRECT_FROM - 1,
            DIRECT_FROM,
            DIRECT_FROM + 1,
            (9 << 20) + 4096 + 7,
            3 * 4096,
        ] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            write_atomic(&path, &bytes).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{n} bytes");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o022, 0o644 & !0o022, "{n} bytes");
            // O_DIRECT itself, where the file system has it (else the fallback wrote above)
            let direct = dir.path().join("direct.bin");
            let file = File::create(&direct).unwrap();
            if write_direct(&file, &bytes).is_ok() {
                assert_eq!(std::fs::read(&direct).unwrap(), bytes, "{n} bytes, O_DIRECT");
                // the flag is cleared again: an unaligned write through the file works
                std::os::unix::fs::FileExt::write_all_at(&file, b"x", 1).unwrap();
            }
        }
    }

    /// After a direct write that stopped half way, the fallback leaves exactly the
    /// bytes asked for, however long the file had become.
    #[test]
    fn the_fallback_replaces_a_half_written_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![9u8; 3 * 4096 + 5]).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        write_through_cache(&file, b"short").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }
}
