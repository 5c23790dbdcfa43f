//! Member shards: which of N shard tasks a member belongs to (docs/scale-out.md).
//!
//! A member's shard is the first 8 bytes of sha256 of its `member_id` (UTF-8 bytes, as
//! stored), read as a big-endian unsigned 64-bit integer, modulo N. Another engine can
//! reproduce it in one line (`int.from_bytes(sha256(id).digest()[:8], "big") % n`), and
//! it does not depend on the order members were seen in, so a shard never needs another.
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// One task's share of the members: those whose shard is `index`, out of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// The environment variables a scheduler sets for an array task's index, in the order
/// they are looked at: Kubernetes Indexed Jobs, then Slurm job arrays.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// The shard of `member_id` among `count` shards.
pub fn shard_of(member_id: &str, count: u64) -> u64 {
    let digest = Sha256::digest(member_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % count.max(1)
}

impl Shard {
    /// The whole program as one shard (what an unsharded run computes).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether `member_id` is this shard's.
    pub fn holds(&self, member_id: &str) -> bool {
        self.count <= 1 || shard_of(member_id, self.count) == self.index
    }

    /// `I/N`, or `N` alone with the index from the scheduler's environment
    /// (`JOB_COMPLETION_INDEX`, else `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let number = |s: &str, what: &str| -> Result<u64> {
            s.trim()
                .parse::<u64>()
                .with_context(|| format!("--shard {text}: {what} '{s}' is not a whole number (write I/N, e.g. 0/4)"))
        };
        let (index, count) = match text.split_once('/') {
            Some((i, n)) => (number(i, "the index")?, number(n, "the count")?),
            None => {
                let count = number(text, "the count")?;
                (index_from_env(&env, text)?, count)
            }
        };
        if count == 0 {
            bail!("--shard {text}: the count must be at least 1");
        }
        if index >= count {
            bail!(
                "--shard {text}: the index {index} is not below the count {count} (shards are numbered 0 to {})",
                count - 1
            );
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn index_from_env(env: &impl Fn(&str) -> Option<String>, text: &str) -> Result<u64> {
    let read = |name: &str| -> Result<Option<u64>> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .with_context(|| format!("{name}='{v}' is not a whole number")),
        }
    };
    if let Some(i) = read(INDEX_VARIABLES[0])? {
        return Ok(i);
    }
    if let Some(i) = read(INDEX_VARIABLES[1])? {
        let min = read("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        return i
            .checked_sub(min)
            .with_context(|| format!("SLURM_ARRAY_TASK_ID {i} is below SLURM_ARRAY_TASK_MIN {min}"));
    }
    bail!(
        "--shard {text}: no index given and none in the environment ({} or {}); write --shard I/{text}",
        INDEX_VARIABLES[0],
        INDEX_VARIABLES[1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_the_first_eight_bytes_of_sha256_big_endian() {
        // worked out with Python's hashlib: sha256(b"M0001")[:8] = 0xdbe999e40c66a87a
        assert_eq!(shard_of("M0001", 2), 0);
        assert_eq!(shard_of("M0001", 3), 1);
        assert_eq!(shard_of("M0001", 7), 5);
        assert_eq!(shard_of("u_123", 7), 4);
        assert_eq!(shard_of("张三", 3), 2);
        assert_eq!(shard_of("", 7), 1);
        assert_eq!(shard_of("M0001", 1), 0);
    }

    #[test]
    fn every_member_is_in_exactly_one_shard() {
        for n in [1u64, 2, 3, 7] {
            for id in ["M0001", "u_123", "张三", "", "x"] {
                let holding = (0..n).filter(|&i| Shard { index: i, count: n }.holds(id)).count();
                assert_eq!(holding, 1, "{id} in {n} shards");
            }
        }
    }

    #[test]
    fn index_comes_from_the_text_or_the_scheduler() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse("2/7", none).unwrap(), Shard { index: 2, count: 7 });
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(Shard::parse("4", k8s).unwrap(), Shard { index: 3, count: 4 });
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("7", slurm).unwrap(), Shard { index: 4, count: 7 });
        let err = |t: &str, e: &dyn Fn(&str) -> Option<String>| format!("{:#}", Shard::parse(t, e).unwrap_err());
        assert!(err("7/7", &none).contains("not below the count 7"));
        assert!(err("4", &none).contains("JOB_COMPLETION_INDEX"));
        assert!(err("a/2", &none).contains("'a' is not a whole number"));
        assert!(err("0/0", &none).contains("at least 1"));
    }
}
