//! `koc check-store PIPELINE`: verify a store without changing it — the manifest
//! against the files, every data file readable with its source's columns, events in
//! the right month partition, no duplicate event ids — and say how to repair each
//! finding.
use anyhow::Result;
use koc_engine::store::{Manifest, Store};
use koc_engine::table::{SourceSpec, ACTIVITY, ALL};
use std::collections::HashSet;

/// One problem found in the store, with how to repair it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub path: String,
    pub problem: String,
    pub fix: String,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct StoreCheck {
    pub files_checked: usize,
    pub events: u64,
    pub findings: Vec<Finding>,
}

pub fn check(store: &Store) -> Result<StoreCheck> {
    let mut out = StoreCheck::default();
    let manifest = match store.manifest() {
        Ok(m) => m,
        Err(e) => {
            out.findings.push(Finding {
                path: store.dir.join("manifest.json").display().to_string(),
                problem: format!("{e}"),
                fix: "restore manifest.json from a backup, or move the store aside and ingest every export again"
                    .into(),
            });
            return Ok(out);
        }
    };
    let mut listed = HashSet::new();
    for (month, rel) in &manifest.events {
        listed.insert(store.dir.join(rel));
        check_file(store, &ACTIVITY, rel, Some(month), &mut out);
    }
    for (source, rel) in &manifest.tables {
        listed.insert(store.dir.join(rel));
        match ALL.iter().find(|s| s.name == source) {
            Some(spec) => check_file(store, spec, rel, None, &mut out),
            None => out.findings.push(Finding {
                path: rel.clone(),
                problem: format!("the manifest names a table of an unknown source '{source}'"),
                fix: "restore manifest.json from a backup".into(),
            }),
        }
    }
    if let Some(ix) = &manifest.event_keys {
        for rel in ix.months.values() {
            listed.insert(store.dir.join(rel));
            out.files_checked += 1;
            if let Err(e) = store.frames_of(rel, None) {
                out.findings.push(Finding {
                    path: store.dir.join(rel).display().to_string(),
                    problem: format!("{e:#}"),
                    fix: "no number depends on it: ingest hashes that month's event ids from its partition instead \
                          (restore the file from a backup to make ingest fast again)"
                        .into(),
                });
            }
        }
    }
    unlisted_files(store, &listed, &mut out)?;
    duplicate_events(store, &manifest, &mut out);
    Ok(out)
}

fn check_file(store: &Store, spec: &SourceSpec, rel: &str, month: Option<&str>, out: &mut StoreCheck) {
    out.files_checked += 1;
    let path = store.dir.join(rel);
    let repair = "restore the file from a backup, or move the store aside and ingest every export again";
    if !path.is_file() {
        out.findings.push(Finding {
            path: path.display().to_string(),
            problem: "named in the manifest but missing".into(),
            fix: repair.into(),
        });
        return;
    }
    let df = match store.frames_of(rel, None) {
        Ok(df) => df,
        Err(e) => {
            out.findings.push(Finding {
                path: path.display().to_string(),
                problem: format!("unreadable: {e}"),
                fix: repair.into(),
            });
            return;
        }
    };
    let missing: Vec<&str> = spec
        .cols
        .iter()
        .map(|c| c.name)
        .filter(|c| df.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        out.findings.push(Finding {
            path: path.display().to_string(),
            problem: format!("lacks the columns {} of {}", missing.join(", "), spec.name),
            fix: repair.into(),
        });
        return;
    }
    if let Some(month) = month {
        out.events += df.height() as u64;
        let wrong = df
            .column("occurred_at")
            .ok()
            .and_then(|c| c.as_materialized_series().datetime().ok().cloned())
            .map(|ts| {
                ts.physical()
                    .iter()
                    .flatten()
                    .filter(|ms| koc_engine::store::month_name(month_of_ms(*ms)) != month)
                    .count()
            })
            .unwrap_or(0);
        if wrong > 0 {
            out.findings.push(Finding {
                path: path.display().to_string(),
                problem: format!("{wrong} events dated outside month {month}"),
                fix: repair.into(),
            });
        }
    }
}

/// The month of a stored time; any i64 (a damaged file's too) gives a month, never a
/// panic.
fn month_of_ms(ms: i64) -> u32 {
    let day = ms
        .div_euclid(86_400_000)
        .clamp(i32::MIN as i64 / 2, i32::MAX as i64 / 2);
    let (y, m, _) = koc_engine::fmt::civil_from_days(day as koc_engine::fmt::Day);
    (y as i64 * 100 + m as i64).clamp(0, u32::MAX as i64) as u32
}

fn unlisted_files(store: &Store, listed: &HashSet<std::path::PathBuf>, out: &mut StoreCheck) -> Result<()> {
    for sub in ["events", "tables"] {
        let mut stack = vec![store.dir.join(sub)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let kind = e.file_type()?;
                let path = e.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_symlink() {
                    out.findings.push(Finding {
                        path: path.display().to_string(),
                        problem: "a symlink inside the store".into(),
                        fix: "remove the link: koc never follows links in its store".into(),
                    });
                } else if !listed.contains(&path) {
                    out.findings.push(Finding {
                        path: path.display().to_string(),
                        problem: "not named in the manifest".into(),
                        fix: "move it out of the store (a leftover of a killed run is removed by the next ingest)"
                            .into(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn duplicate_events(store: &Store, m: &Manifest, out: &mut StoreCheck) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut dups = 0u64;
    let mut first = None;
    for rel in m.events.values() {
        let Ok(df) = store.frames_of(rel, Some(&["event_id"])) else {
            continue;
        };
        let Ok(ids) = df.column("event_id").and_then(|c| c.str().cloned()) else {
            continue;
        };
        for id in ids.iter().flatten() {
            if !seen.insert(id.to_string()) {
                dups += 1;
                first.get_or_insert_with(|| id.to_string());
            }
        }
    }
    if let Some(id) = first {
        out.findings.push(Finding {
            path: store.dir.join("events").display().to_string(),
            problem: format!("{dups} duplicate event ids (first: '{id}')"),
            fix: "move the store aside and ingest every export again".into(),
        });
    }
}
