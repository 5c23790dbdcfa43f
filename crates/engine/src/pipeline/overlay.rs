//! Scenario overlays for `koc simulate` (SPEC §12): deep merge of YAML values —
//! maps by key, lists of maps by `id`, anything else replaced — and `--set PATH=VALUE`.
use crate::error::usage_err;
use anyhow::Result;
use serde_json::{Map as Mapping, Value};

/// Merge `overlay` onto `base` in place.
pub fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) if is_id_list(b) && is_id_list(o) => {
            for item in o {
                let id = item.get("id").cloned();
                match b.iter_mut().find(|x| x.get("id") == id.as_ref()) {
                    Some(existing) => merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn is_id_list(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|x| x.get("id").is_some())
}

/// Set one value: `points.rules.featured.points=800` (list items addressed by id).
/// The value is read as a YAML scalar; a path that names nothing is an error listing
/// what exists there.
pub fn set(root: &mut Value, assignment: &str) -> Result<()> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| usage_err(format!("--set '{assignment}': expected PATH=VALUE")))?;
    let value: Value = serde_saphyr::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let here = parts[..i].join(".");
        node = match node {
            Value::Object(m) => {
                let key = part.to_string();
                if last {
                    m.insert(key, value);
                    return Ok(());
                }
                if !m.contains_key(&key) {
                    return Err(nothing_there(path, &here, &keys_of(m)));
                }
                m.get_mut(&key).expect("checked")
            }
            Value::Array(items) => {
                let ids: Vec<String> = items
                    .iter()
                    .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect();
                let Some(pos) = items
                    .iter()
                    .position(|x| x.get("id").and_then(Value::as_str) == Some(part))
                else {
                    return Err(nothing_there(path, &here, &ids));
                };
                if last {
                    items[pos] = value;
                    return Ok(());
                }
                &mut items[pos]
            }
            _ => {
                return Err(usage_err(format!(
                    "--set {path}: '{here}' is a single value, not a map or a list"
                )))
            }
        };
    }
    Ok(())
}

fn keys_of(m: &Mapping<String, Value>) -> Vec<String> {
    m.keys().cloned().collect()
}

fn nothing_there(path: &str, here: &str, exists: &[String]) -> anyhow::Error {
    let at = if here.is_empty() {
        "the top level".to_string()
    } else {
        format!("'{here}'")
    };
    usage_err(format!(
        "--set {path}: nothing of that name at {at}\n  fix: it has: {}",
        exists.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_saphyr::from_str(s).unwrap()
    }

    #[test]
    fn maps_merge_by_key_lists_by_id_and_scalars_replace() {
        let mut base = y("a: {x: 1, y: 2}\nrules: [{id: p, points: 1, cap: 3}, {id: q, points: 2}]\nlist: [1, 2]\n");
        let over = y("a: {y: 5, z: 6}\nrules: [{id: p, points: 9}, {id: new, points: 4}]\nlist: [7]\n");
        merge(&mut base, &over);
        assert_eq!(
            base,
            y("a: {x: 1, y: 5, z: 6}\nrules: [{id: p, points: 9, cap: 3}, {id: q, points: 2}, {id: new, points: 4}]\nlist: [7]\n")
        );
    }

    #[test]
    fn set_addresses_list_items_by_id_and_parses_yaml_scalars() {
        let mut v = y("points: {rules: [{id: featured, points: 500}]}\ntiers: {levels: [{id: gold, min: 2000}]}\n");
        set(&mut v, "points.rules.featured.points=800").unwrap();
        set(&mut v, "tiers.levels.gold.min=2500").unwrap();
        assert_eq!(
            v,
            y("points: {rules: [{id: featured, points: 800}]}\ntiers: {levels: [{id: gold, min: 2500}]}\n")
        );
    }

    #[test]
    fn set_on_a_missing_id_lists_what_exists() {
        let mut v = y("points: {rules: [{id: post, points: 5}, {id: featured, points: 500}]}\n");
        let err = set(&mut v, "points.rules.featurd.points=800").unwrap_err().to_string();
        assert!(err.contains("nothing of that name at 'points.rules'"), "{err}");
        assert!(err.contains("post, featured"), "{err}");
        let err = set(&mut v, "pionts.rules.x=1").unwrap_err().to_string();
        assert!(err.contains("the top level") && err.contains("points"), "{err}");
    }
}
