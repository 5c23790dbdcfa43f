//! Privacy (PIPL): the `privacy:` section drops or hashes chosen columns as rows are
//! ingested, so the values never reach the store or any output, and masks nicknames
//! in the reports that are shared outside the team.
use crate::error::usage_err;
use crate::pipeline::config::PrivacyCfg;
use crate::table::ValRef;
use anyhow::Result;
use serde_json::Value;

/// A value as the privacy section leaves it.
pub enum Treated {
    Kept,
    Dropped,
    Hashed(String),
}

/// The columns a `privacy` section names, ready to apply to each converted row.
pub struct Privacy {
    drop: Vec<String>,
    hash: Vec<String>,
    salt: String,
}

/// Columns that hold a member id: hashing `member_id` hashes them too, so the
/// references between sources still join.
const MEMBER_REFERENCES: [&str; 2] = ["mentor_id", "mentee_id"];

impl Privacy {
    /// From the pipeline's section (None without one). The salt is read from the
    /// environment variable `salt_env` names: an unset variable is an error, since
    /// hashes without the salt would change and break every upsert key.
    pub fn new(cfg: Option<&PrivacyCfg>) -> Result<Option<Privacy>> {
        let Some(cfg) = cfg else { return Ok(None) };
        let salt = match &cfg.salt_env {
            Some(var) => std::env::var(var).map_err(|_| {
                usage_err(format!(
                    "privacy.salt_env names {var}, which is not set\n  fix: export {var}=<a long random secret> before running koc (keep it: hashes depend on it)"
                ))
            })?,
            None => String::new(),
        };
        Ok(Some(Privacy {
            drop: cfg.drop.clone(),
            hash: cfg.hash.clone(),
            salt,
        }))
    }

    /// Whether the section drops `column` (its values are never read, checked or kept).
    pub fn drops(&self, column: &str) -> bool {
        self.drop.iter().any(|d| d == column)
    }

    pub fn hashes(&self, column: &str) -> bool {
        self.hash.iter().any(|h| h == column)
            || (MEMBER_REFERENCES.contains(&column) && self.hash.iter().any(|h| h == "member_id"))
    }

    /// What the section does to one converted value of `column`.
    pub fn treat(&self, column: &str, v: ValRef) -> Treated {
        if self.drop.iter().any(|d| d == column) {
            Treated::Dropped
        } else if let (true, ValRef::Str(s)) = (self.hashes(column), v) {
            Treated::Hashed(self.pseudonym(s))
        } else {
            Treated::Kept
        }
    }

    /// A stable pseudonym: the first 16 hex digits of sha256(salt, value).
    pub fn pseudonym(&self, value: &str) -> String {
        let digest = crate::store::sha256_hex(format!("{}\u{1f}{value}", self.salt).as_bytes());
        digest[..16].to_string()
    }
}

/// `张三丰` → `张**`: the first character stays, so people can still tell rows apart.
pub fn mask(nickname: &str) -> String {
    let mut chars = nickname.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// Mask every `nickname` (and `*_nickname`) value of a report context.
pub fn mask_nicknames(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if k == "nickname" || k.ends_with("_nickname") {
                    if let Value::String(s) = x {
                        *s = mask(s);
                    }
                } else {
                    mask_nicknames(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_nicknames),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_first_character() {
        assert_eq!(mask("张三丰"), "张**");
        assert_eq!(mask("A"), "A");
        assert_eq!(mask(""), "");
        let mut v = serde_json::json!({"a": [{"nickname": "李四", "x": "李四"}], "mentor_nickname": "王五"});
        mask_nicknames(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": [{"nickname": "李*", "x": "李四"}], "mentor_nickname": "王*"})
        );
    }

    #[test]
    fn pseudonyms_are_stable_and_salted() {
        let p = |salt: &str| Privacy {
            drop: vec![],
            hash: vec!["member_id".into()],
            salt: salt.into(),
        };
        assert_eq!(p("s").pseudonym("13800000000"), p("s").pseudonym("13800000000"));
        assert_ne!(p("s").pseudonym("13800000000"), p("t").pseudonym("13800000000"));
        assert_eq!(p("s").pseudonym("x").len(), 16);
        assert!(p("s").hashes("mentee_id"));
    }
}
