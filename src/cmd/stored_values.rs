//! `koc validate` against the store: values a condition compares with that no stored
//! event has (read from the store, so this lives with the commands, not in the engine).
use koc_engine::pipeline::config::suggest;
use koc_engine::pipeline::program::Program;

/// Warnings (exit 0): a literal compared with `topic`, `task_type` or `channel` that no
/// stored event has (a typo there silently matches nothing). Needs the store.
pub fn stored_value_warnings(loaded: &Program) -> anyhow::Result<Vec<String>> {
    let store = koc_engine::store::Store::open_read(&loaded.file().store_dir());
    if !store.dir.join("manifest.json").exists() {
        return Ok(vec![]);
    }
    let manifest = store.manifest()?;
    // actions only when the pipeline maps none (otherwise validate already checks them)
    let unmapped_actions = loaded
        .file()
        .pipeline
        .sources
        .activity
        .as_ref()
        .is_some_and(|a| !a.values.contains_key("action"));
    const ALL_COLUMNS: [&str; 4] = ["topic", "task_type", "channel", "action"];
    let columns: &[&str] = if unmapped_actions {
        &ALL_COLUMNS
    } else {
        &ALL_COLUMNS[..3]
    };
    let wanted: Vec<(&str, String, &str, &String)> = loaded
        .conditions
        .in_file_order()
        .into_iter()
        .flat_map(|e| {
            columns.iter().flat_map(move |c| {
                koc_engine::pipeline::lint::literals_of(e, c)
                    .into_iter()
                    .map(move |l| (*c, l, e.location.as_str(), &e.what))
            })
        })
        .collect();
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let mut seen: std::collections::HashMap<&str, std::collections::BTreeSet<String>> = Default::default();
    let mut events = 0usize;
    for rel in manifest.events.values() {
        let df = store.frames_of(rel, Some(columns))?;
        events += df.height();
        for &c in columns {
            let set = seen.entry(c).or_default();
            if let Ok(col) = df.column(c).and_then(|x| x.str().cloned()) {
                set.extend(col.iter().flatten().map(str::to_string));
            }
        }
    }
    let mut out = Vec::new();
    // an action a rule names is expected even before any event has it
    let rule_actions: Vec<String> = loaded
        .file()
        .pipeline
        .points
        .iter()
        .flat_map(|p| &p.rules)
        .map(|r| r.action.clone())
        .collect();
    seen.entry("action").or_default().extend(rule_actions);
    for (column, value, at, what) in wanted {
        let values = seen.get(column).cloned().unwrap_or_default();
        if values.contains(&value) {
            continue;
        }
        let hint = suggest(&value, values.iter().map(String::as_str))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        out.push(format!(
            "{at}: {what}: {column} '{value}' occurs in none of {} stored events{hint}",
            koc_engine::fmt::thousands(events as i64)
        ));
    }
    Ok(out)
}
