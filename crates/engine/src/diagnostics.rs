//! The warnings of a run (SPEC §2): problems that did not stop it, each with a code
//! from one closed set, on stderr, in `run.json` and in the report's banners.
use serde::{Deserialize, Serialize};

/// What a warning is about; written in `run.json` as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// An export with no header and no rows.
    EmptyFile,
    /// A glob matched a folder, FIFO, device or broken link: not read.
    NotARegularFile,
    /// A source's glob matches no file: nothing from it was read.
    NoMatchingFile,
    /// The newest stored event is older than `ingest.stale_after_days` before D.
    StaleData,
    /// Rows name a contest the pipeline does not have.
    UnknownContest,
    /// Member ids with invisible or bidi characters, or spaces around them.
    MemberIdInvisibleCharacters,
    /// Member ids in scientific notation (Excel's display of a long number).
    MemberIdScientificNotation,
    /// The run found no export it had not ingested before: its figures are the
    /// previous night's data. Said on stderr and in run.json only (the report and the
    /// digest stay a function of the store, so a re-run gives the same bytes).
    NoNewFiles,
}

impl Code {
    /// As `run.json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::EmptyFile => "empty_file",
            Code::NotARegularFile => "not_a_regular_file",
            Code::NoMatchingFile => "no_matching_file",
            Code::StaleData => "stale_data",
            Code::UnknownContest => "unknown_contest",
            Code::MemberIdInvisibleCharacters => "member_id_invisible_characters",
            Code::MemberIdScientificNotation => "member_id_scientific_notation",
            Code::NoNewFiles => "no_new_files",
        }
    }
}

/// One warning: its code and a message for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Warning {
    pub code: Code,
    pub message: String,
    /// The same in Chinese, for a zh-CN program's report (the message stays English
    /// on stderr and in logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
}

impl Warning {
    pub fn new(code: Code, message: String) -> Warning {
        Warning {
            code,
            message,
            zh: None,
        }
    }

    /// A warning with its Chinese wording for the report.
    pub fn bilingual(code: Code, message: String, zh: String) -> Warning {
        Warning {
            code,
            message,
            zh: Some(zh),
        }
    }

    /// Whether the report and the digest show it (not when it depends on what the
    /// run found in the exports folder rather than on the store).
    pub fn shown_in_report(&self) -> bool {
        !matches!(self.code, Code::EmptyFile | Code::NoNewFiles)
    }

    /// The message in the report's language.
    pub fn for_report(&self, en: bool) -> &str {
        match (&self.zh, en) {
            (Some(zh), false) => zh,
            _ => &self.message,
        }
    }

    /// `n` rows of `source` name contest `id`, which the pipeline does not have.
    pub fn unknown_contest(source: &str, n: u64, id: &str) -> Warning {
        Warning::bilingual(
            Code::UnknownContest,
            format!(
                "{source}: {n} row(s) name contest '{id}', which no contest of the pipeline has (stored, e.g. for an earlier season; add the contest under contests: to judge them)"
            ),
            format!("{source}：{n} 行属于赛事“{id}”，但流水线中没有这个赛事（数据已保存；如需评奖，请在 contests 中添加）"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are written as they always were: the serde names are the texts.
    #[test]
    fn codes_serialize_as_their_names() {
        for code in [
            Code::EmptyFile,
            Code::NotARegularFile,
            Code::NoMatchingFile,
            Code::StaleData,
            Code::UnknownContest,
            Code::MemberIdInvisibleCharacters,
            Code::MemberIdScientificNotation,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        }
    }
}
