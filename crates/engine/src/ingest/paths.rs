//! Which export files a source's `path` names (SPEC §3, §4): a plain path must be a
//! regular file, a glob's folder must exist, and every source's problems come together.
use crate::error::usage_err;
use crate::pipeline::config::{Loaded, SourceCfg};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The files a source's `path` names, in the byte order of their paths (SPEC §4).
pub struct SourceFiles {
    pub files: Vec<PathBuf>,
    /// Glob matches that are not regular files (folders, FIFOs, devices, broken
    /// links): not read, and said as a warning.
    pub skipped: Vec<String>,
}

impl SourceFiles {
    /// The warning for a glob that matched nothing: a night without new exports, or
    /// a pattern that no longer fits the files' names.
    pub fn nothing_matched(&self, source: &str, cfg: &SourceCfg) -> Option<crate::diagnostics::Warning> {
        (self.files.is_empty() && self.skipped.is_empty()).then(|| {
            crate::diagnostics::Warning::bilingual(
                crate::diagnostics::Code::NoMatchingFile,
                format!(
                    "sources.{source}.path '{}' matches no file: nothing was read from {source}; check the pattern against the exports' names",
                    cfg.path
                ),
                format!(
                    "sources.{source}.path“{}”没有匹配到任何文件，本次没有读取 {source} 的数据；请核对路径模式与导出文件名",
                    cfg.path
                ),
            )
        })
    }
}

/// Every source's files, or every source's path problem in one error (a missing file
/// or folder of one source does not hide another's).
pub fn all_files<'p>(
    loaded: &Loaded,
    sources: impl IntoIterator<Item = (&'p str, &'p SourceCfg)>,
) -> Result<Vec<(&'p str, &'p SourceCfg, SourceFiles)>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (name, cfg) in sources {
        match files_of(loaded, name, cfg) {
            Ok(f) => found.push((name, cfg, f)),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    match problems.len() {
        0 => Ok(found),
        _ => Err(usage_err(problems.join("\n"))),
    }
}

/// The files of a source. A plain path must be a regular file (following a link);
/// a glob's matches that are not are skipped with a warning. Names that are not
/// UTF-8 (GBK bytes from a Windows archive) are matched and read like any other:
/// the file-name part of a glob is matched here, on the name as text with the bad
/// bytes replaced, since the glob crate passes such names over.
pub fn files_of(loaded: &Loaded, source: &str, cfg: &SourceCfg) -> Result<SourceFiles> {
    let full = loaded.resolve(&cfg.path);
    let has_glob = |p: &str| p.contains(['*', '?', '[']);
    // only the path as the pipeline writes it is a pattern: the pipeline's own folder
    // (`/data/koc[1]/`) is matched as it is
    let pattern = if Path::new(&cfg.path).is_absolute() {
        cfg.path.clone()
    } else {
        let base = glob::Pattern::escape(&loaded.dir.to_string_lossy());
        format!("{base}/{}", cfg.path)
    };
    if !has_glob(&cfg.path) {
        let meta = std::fs::metadata(&full).map_err(|_| {
            usage_err(format!(
                "{}: sources.{source}.path: no file at {}",
                loaded.at(&format!("sources.{source}.path")),
                full.display()
            ))
        })?;
        if !meta.is_file() {
            return Err(usage_err(format!(
                "{}: sources.{source}.path: {} is {}, not a regular file\n  fix: point sources.{source}.path at an export file (or a glob such as exports/*.csv)",
                loaded.at(&format!("sources.{source}.path")),
                full.display(),
                kind_of(&meta)
            )));
        }
        check_size(&full, meta.len())?;
        return Ok(SourceFiles {
            files: vec![full],
            skipped: vec![],
        });
    }
    let bad_glob = |e: &dyn std::fmt::Display| {
        usage_err(format!(
            "{}: bad glob '{}': {e}",
            loaded.at(&format!("sources.{source}.path")),
            cfg.path
        ))
    };
    let (dir_part, name_part) = match pattern.rfind('/') {
        Some(i) => (&pattern[..i.max(1)], &pattern[i + 1..]),
        None => (".", pattern.as_str()),
    };
    let name_pattern = glob::Pattern::new(name_part).map_err(|e| bad_glob(&e))?;
    let dirs: Vec<PathBuf> = if has_glob(dir_part) {
        glob::glob(dir_part)
            .map_err(|e| bad_glob(&e))?
            .filter_map(|p| p.ok())
            .filter(|p| p.is_dir())
            .collect()
    } else {
        vec![PathBuf::from(dir_part)]
    };
    if dirs.iter().all(|d| !d.is_dir()) {
        return Err(missing_folder(loaded, source, cfg, dir_part));
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name_pattern.matches(&name.to_string_lossy()) {
                continue;
            }
            let path = dir.join(&name);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    check_size(&path, meta.len())?;
                    files.push(path);
                }
                Ok(meta) => skipped.push(format!("{} ({})", path.display(), kind_of(&meta))),
                Err(_) => skipped.push(format!("{} (a broken link)", path.display())),
            }
        }
    }
    files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    skipped.sort();
    Ok(SourceFiles { files, skipped })
}

/// The error for a glob that matches no file of a source the store has never had a
/// file of: the pattern, its folder, and the folder's nearest file names.
pub fn never_matched(loaded: &Loaded, source: &str, cfg: &SourceCfg) -> anyhow::Error {
    let full = loaded.resolve(&cfg.path);
    let folder = full.parent().map(Path::to_path_buf).unwrap_or_default();
    let pattern = full
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort_by_key(|n| crate::pipeline::config::edit_distance(&pattern, n));
    let hint = match names.len() {
        0 => format!(
            "the folder {} is empty: put the exports there, or point the path at them",
            folder.display()
        ),
        _ => format!(
            "check the pattern against the exports' names; the folder holds {}",
            names
                .iter()
                .take(3)
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    crate::error::KocError::usage(format!(
        "{}: sources.{source}.path '{}' matches no file, and the store has no file of {source} yet",
        loaded.at(&format!("sources.{source}.path")),
        cfg.path
    ))
    .with_hint(hint)
    .into()
}

/// The error for a glob whose folder does not exist, with the nearest folder name
/// beside it (a misspelt `exprots/*.csv`).
fn missing_folder(loaded: &Loaded, source: &str, cfg: &SourceCfg, dir: &str) -> anyhow::Error {
    let dir = Path::new(dir);
    let near = dir
        .parent()
        .and_then(|parent| std::fs::read_dir(parent).ok())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let hint = match crate::pipeline::config::suggest(&name, near.iter().map(String::as_str)) {
        Some(s) => format!("did you mean the folder '{s}'?"),
        None => "check the folder part of the path (relative paths start at the pipeline file's folder)".into(),
    };
    crate::error::KocError::usage(format!(
        "{}: sources.{source}.path '{}': the folder {} does not exist",
        loaded.at(&format!("sources.{source}.path")),
        cfg.path,
        dir.display()
    ))
    .with_hint(hint)
    .into()
}

/// What a path that is not a regular file is, in words.
pub(super) fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The most bytes one export may have: it is read whole into memory, and a file past
/// this is far more likely a wrong path (a disk image, a dump) than a day of activity.
pub const MAX_EXPORT_BYTES: u64 = 4 << 30;

/// An export past `MAX_EXPORT_BYTES` is an error naming it.
pub(super) fn check_size(path: &Path, len: u64) -> Result<()> {
    if len > MAX_EXPORT_BYTES {
        return Err(crate::error::KocError::new(
            crate::error::ErrorKind::Runtime,
            format!(
                "{}: the file has {len} bytes, more than an export may have ({MAX_EXPORT_BYTES} bytes)",
                path.display()
            ),
        )
        .with_hint("split the export into smaller files (one per day or week), or check that the path names an export")
        .into());
    }
    Ok(())
}
