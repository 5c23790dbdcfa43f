//! `koc notify` (SPEC §17): send a finished run — the digest to each group robot, the
//! notices to each webhook in batches — and record in `runs/<D>/notify.json` what went,
//! so a later notify sends only the rest. URLs and secrets come from the environment
//! and never reach a line printed or written.
use crate::output::robots::{self, Request};
use anyhow::{Context, Result};
use koc_engine::error::{ErrorKind, KocError};
use koc_engine::fmt::{fmt_day, Day};
use koc_engine::pipeline::config::messaging::{Channel, Send};
use koc_engine::pipeline::config::NotifyCfg;
use koc_engine::pipeline::program::Program;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The record of what was sent for a run, in its folder.
pub const RECORD: &str = "notify.json";
/// Attempts per request: the first and three retries.
const ATTEMPTS: u32 = 4;
const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How much of an answer is kept in the record and in messages.
const ANSWER_CHARS: usize = 300;

pub struct Options {
    pub dry_run: bool,
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Sent,
    Failed,
    /// Recorded as sent by an earlier notify: not sent again.
    AlreadySent,
    /// `--dry-run`: printed, not sent.
    DryRun,
}

/// One channel's digest, or one batch of notices to a webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// `channel:URL_ENV` (and `:rows-A-B` for a batch): stable across notifies of D.
    pub key: String,
    pub status: Status,
    pub attempts: u32,
    /// The robot's or server's answer (or why nothing was sent), secrets left out.
    pub answer: String,
    /// When it was sent or failed (UTC, RFC 3339).
    #[serde(default)]
    pub at: Option<String>,
}

/// What `koc notify` did, in pipeline order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub as_of: String,
    pub deliveries: Vec<Delivery>,
}

impl Report {
    /// Exit 1 naming each failed channel or batch and its answer.
    pub fn result(&self) -> Result<()> {
        let failed: Vec<String> = self
            .deliveries
            .iter()
            .filter(|d| d.status == Status::Failed)
            .map(|d| format!("  {}: {}", d.key, d.answer))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(KocError::new(
            ErrorKind::Runtime,
            format!("{} of {} deliveries failed:\n{}", failed.len(), self.deliveries.len(), failed.join("\n")),
        )
        .with_hint("fix what each answer says (an unset variable, a wrong secret, a robot's keyword or IP rule), then run koc notify again: only what failed is sent")
        .into())
    }
}

/// The record file: each delivery by key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    as_of: String,
    deliveries: BTreeMap<String, Delivery>,
}

/// Send the run of D as the pipeline's `notify` says; `say` gets one line per delivery.
pub fn notify(prog: &Program, d: Day, options: &Options, say: &mut dyn FnMut(&str)) -> Result<Report> {
    let p = &prog.file().pipeline;
    if p.notify.is_empty() {
        return Err(KocError::usage(format!(
            "{}: the pipeline has no notify section",
            prog.file().path.display()
        ))
        .with_hint("add e.g. `notify: [{channel: wecom, url_env: KOC_WECOM_URL}]` (docs/notify.md)")
        .into());
    }
    let folder = prog.file().store_dir().join("runs").join(fmt_day(d));
    if !folder.join("run.json").is_file() {
        return Err(KocError::new(
            ErrorKind::Runtime,
            format!("there is no finished run for {} in {}", fmt_day(d), folder.display()),
        )
        .with_hint(format!(
            "run `koc run {} --as-of {}` first; koc notify sends a finished run, it never computes",
            prog.file().path.display(),
            fmt_day(d)
        ))
        .into());
    }
    // one notify at a time per store, and none while a run replaces the folder
    let _store = koc_engine::store::Store::open_locked(&prog.file().store_dir())?;
    let record_path = folder.join(RECORD);
    let mut record = read_record(&record_path)?;
    record.as_of = fmt_day(d);
    let agent = agent();
    let rest = if prog.locale.is_en() {
        format!("\n(cut here: the rest is in {})", folder.join("report.html").display())
    } else {
        format!("\n（篇幅所限，其余见报告 {}）", folder.join("report.html").display())
    };
    let mut report = Report {
        as_of: fmt_day(d),
        deliveries: Vec::new(),
    };
    for entry in &p.notify {
        for (key, build) in deliveries_of(entry, &folder, &rest)? {
            let delivery = if !options.force && record.deliveries.get(&key).is_some_and(|r| r.status == Status::Sent) {
                Delivery {
                    key: key.clone(),
                    status: Status::AlreadySent,
                    attempts: 0,
                    answer: "sent by an earlier koc notify (--force sends it again)".into(),
                    at: record.deliveries[&key].at.clone(),
                }
            } else {
                match build(entry) {
                    Err(why) => failed(&key, why),
                    Ok(request) if options.dry_run => {
                        say(&format!("── {key} (dry run) ──\n{}", request.shown()));
                        Delivery {
                            key: key.clone(),
                            status: Status::DryRun,
                            attempts: 0,
                            answer: String::new(),
                            at: None,
                        }
                    }
                    Ok(request) => send(&agent, &key, &request),
                }
            };
            say(&format!("{}: {}", delivery.key, describe(&delivery)));
            if !options.dry_run && delivery.status != Status::AlreadySent {
                record.deliveries.insert(key.clone(), delivery.clone());
                // written after each delivery: a notify killed halfway keeps what went
                write_record(&record_path, &record)?;
            }
            report.deliveries.push(delivery);
        }
    }
    Ok(report)
}

fn describe(d: &Delivery) -> String {
    match d.status {
        Status::Sent => format!(
            "sent ({} attempt{})",
            d.attempts,
            if d.attempts == 1 { "" } else { "s" }
        ),
        Status::Failed => format!("FAILED: {}", d.answer),
        Status::AlreadySent => "already sent, skipped".into(),
        Status::DryRun => "not sent (dry run)".into(),
    }
}

fn failed(key: &str, why: String) -> Delivery {
    Delivery {
        key: key.to_string(),
        status: Status::Failed,
        attempts: 0,
        answer: why,
        at: Some(now_rfc3339()),
    }
}

/// A request to build once its URL and secret are read from the environment.
type Build<'a> = Box<dyn Fn(&NotifyCfg) -> std::result::Result<Request, String> + 'a>;

/// The deliveries of one `notify` entry: the digest for a robot, one per batch of
/// notices for a webhook (none when there are no notices).
fn deliveries_of<'a>(entry: &NotifyCfg, folder: &Path, rest: &'a str) -> Result<Vec<(String, Build<'a>)>> {
    let key = format!("{}:{}", entry.channel.as_str(), entry.url_env);
    match entry.sends() {
        Send::Digest => {
            let path = folder.join(crate::output::digest::FILE);
            let digest = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the digest {} (re-run koc run for this date)",
                    path.display()
                )
            })?;
            let build: Build = Box::new(move |e: &NotifyCfg| {
                let url = env_value(&e.url_env)?;
                let secret = e.secret_env.as_deref().map(env_value).transpose()?;
                let (ms, s) = now_timestamps();
                Ok(match e.channel {
                    Channel::Wecom => robots::wecom(&url, &digest, rest),
                    Channel::Dingtalk => robots::dingtalk(&url, secret.as_deref(), ms, &digest, rest),
                    Channel::Feishu => robots::feishu(&url, secret.as_deref(), s, &digest, rest),
                    Channel::Webhook => unreachable!("check refuses a webhook sent the digest"),
                })
            });
            Ok(vec![(key, build)])
        }
        Send::Notices => {
            let (columns, rows) = read_notices(&folder.join("notices.csv"))?;
            let columns = std::rc::Rc::new(columns);
            let rows = std::rc::Rc::new(rows);
            let mut out: Vec<(String, Build)> = Vec::new();
            for start in (0..rows.len()).step_by(robots::NOTICES_PER_BATCH) {
                let end = (start + robots::NOTICES_PER_BATCH).min(rows.len());
                let (columns, rows) = (columns.clone(), rows.clone());
                let build: Build = Box::new(move |e: &NotifyCfg| {
                    let url = env_value(&e.url_env)?;
                    Ok(robots::notices_batch(&url, &columns, &rows[start..end]))
                });
                out.push((format!("{key}:rows-{}-{end}", start + 1), build));
            }
            Ok(out)
        }
    }
}

/// An environment variable's value; unset or empty names the variable (never a value).
fn env_value(name: &str) -> std::result::Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Ok(_) => Err(format!("the environment variable {name} is empty")),
        Err(_) => Err(format!("the environment variable {name} is not set")),
    }
}

/// notices.csv of the run as written: its header and rows, the CSV guard against
/// spreadsheet formulas taken off again (the webhook gets the text itself).
fn read_notices(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {} (the pipeline's notices section writes it: re-run koc run)",
            path.display()
        )
    })?;
    let text = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().from_reader(text);
    let columns: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: line {} cannot be read", path.display(), i + 2))?;
        rows.push(record.iter().map(|c| unguard(c).to_string()).collect());
    }
    Ok((columns, rows))
}

/// A cell without the `'` that `fmt::excel_text` puts before `= + - @`, tab and CR.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout()))
        .http_status_as_error(false)
        .build()
        .into()
}

/// 10 s; `KOC_NOTIFY_TIMEOUT_MS` shortens it (the tests' silent robot).
fn timeout() -> Duration {
    millis_from_env("KOC_NOTIFY_TIMEOUT_MS").unwrap_or(TIMEOUT)
}

/// 1 s, doubled before each retry; `KOC_NOTIFY_BACKOFF_MS` changes the first (tests).
fn first_backoff() -> Duration {
    millis_from_env("KOC_NOTIFY_BACKOFF_MS").unwrap_or(FIRST_BACKOFF)
}

fn millis_from_env(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
}

/// POST with retries: a connection error, a timeout, HTTP ≥ 400 or a robot's error
/// code fails an attempt; four attempts with doubling backoff.
fn send(agent: &ureq::Agent, key: &str, request: &Request) -> Delivery {
    let mut last = String::new();
    let mut wait = first_backoff();
    for attempt in 1..=ATTEMPTS {
        match post(agent, request) {
            Ok(answer) => {
                return Delivery {
                    key: key.to_string(),
                    status: Status::Sent,
                    attempts: attempt,
                    answer,
                    at: Some(now_rfc3339()),
                }
            }
            Err(why) => last = why,
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
    Delivery {
        key: key.to_string(),
        status: Status::Failed,
        attempts: ATTEMPTS,
        answer: last,
        at: Some(now_rfc3339()),
    }
}

/// One attempt: the answer, or why it failed (secrets left out of both).
fn post(agent: &ureq::Agent, request: &Request) -> std::result::Result<String, String> {
    let clean = |s: &str| {
        let s = robots::redact(s, &request.secrets);
        s.chars().take(ANSWER_CHARS).collect::<String>()
    };
    let mut response = agent
        .post(&request.url)
        .header("Content-Type", request.content_type)
        .send(&request.body[..])
        .map_err(|e| clean(&e.to_string()))?;
    let status = response.status().as_u16();
    let full = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    // the robot's verdict from the whole answer; only what is kept is cut short
    let verdict = if request.robot {
        robots::robot_error(full.trim())
    } else {
        None
    };
    let answer = clean(full.trim());
    if status >= 400 {
        return Err(format!("HTTP {status}: {answer}"));
    }
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status} (not a success): {answer}"));
    }
    if let Some(error) = verdict {
        return Err(clean(&format!("HTTP {status}, {error}")));
    }
    Ok(if answer.is_empty() {
        format!("HTTP {status}")
    } else {
        answer
    })
}

fn read_record(path: &Path) -> Result<Record> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            KocError::new(ErrorKind::Runtime, format!("{} cannot be read: {e}", path.display()))
                .with_hint("it records what koc notify sent for this date; remove it to send everything again")
                .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

fn write_record(path: &Path, record: &Record) -> Result<()> {
    koc_engine::store::write_atomic(path, &serde_json::to_vec_pretty(record)?)
}

/// Now as (milliseconds, seconds) since the Unix epoch, for the robots' signatures.
fn now_timestamps() -> (i64, i64) {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    (ms, ms / 1000)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
