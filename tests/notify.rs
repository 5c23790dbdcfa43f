//! `koc notify` (SPEC §17) against a local HTTP server that plays each robot: WeCom,
//! DingTalk and Feishu checking their signatures as their documentation says, a webhook
//! taking JSON lines, a robot answering HTTP 200 with an error code, one answering 500
//! and one that never answers. No test reaches the network.
mod common;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const D: &str = "2025-06-30";
const DING_SECRET: &str = "SECding-test-secret";
const FEISHU_SECRET: &str = "feishu-test-secret";
const TOKEN: &str = "tok3n-never-shown";

/// One request the fake robots received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: String,
    content_type: String,
    body: String,
}

/// The robots on one local port: the path says which robot answers.
struct Robots {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Robots {
    fn start() -> Robots {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Robots { port, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}?access_token={TOKEN}", self.port)
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

fn serve(stream: std::net::TcpStream, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (path, query) = target
        .split_once('?')
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .unwrap_or((target, String::new()));
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "content-type" => content_type = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    let r = Received {
        path: path.clone(),
        query,
        content_type,
        body,
    };
    log.lock().unwrap().push(r.clone());
    let (status, answer) = match path.as_str() {
        "/wecom" => (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_string()),
        "/dingtalk" => match dingtalk_signed(&r.query) {
            true => (200, r#"{"errcode":0,"errmsg":"ok"}"#.into()),
            false => (200, r#"{"errcode":310000,"errmsg":"sign not match"}"#.into()),
        },
        "/feishu" => match feishu_signed(&r.body) {
            true => (200, r#"{"code":0,"msg":"success"}"#.into()),
            false => (
                200,
                r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#
                    .into(),
            ),
        },
        // a plain webhook: any 2xx is success, even with a `code` in its body
        "/hook" => (200, r#"{"code":1,"msg":"queued"}"#.into()),
        "/broken" => (500, "internal error".into()),
        "/silent" => {
            std::thread::sleep(std::time::Duration::from_secs(20));
            return;
        }
        _ => (404, "no such robot".into()),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn base64_hmac(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk: `timestamp` (ms) and `sign` = URL-encoded base64 HMAC-SHA256, keyed by the
/// secret, of "timestamp\nsecret".
fn dingtalk_signed(query: &str) -> bool {
    let get = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let (Some(ts), Some(sign)) = (get("timestamp"), get("sign")) else {
        return false;
    };
    let sign = percent_encoding::percent_decode_str(&sign)
        .decode_utf8()
        .unwrap()
        .to_string();
    ts.len() == 13 && sign == base64_hmac(DING_SECRET.as_bytes(), format!("{ts}\n{DING_SECRET}").as_bytes())
}

/// Feishu: `timestamp` (s) and `sign` in the body = base64 HMAC-SHA256 keyed by
/// "timestamp\nsecret" over an empty message.
fn feishu_signed(body: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let (Some(ts), Some(sign)) = (v["timestamp"].as_str(), v["sign"].as_str()) else {
        return false;
    };
    ts.len() == 10 && sign == base64_hmac(format!("{ts}\n{FEISHU_SECRET}").as_bytes(), b"")
}

const NOTIFY: &str = "notify:
  - {channel: wecom, url_env: T_WECOM}
  - {channel: dingtalk, url_env: T_DING, secret_env: T_DING_SECRET}
  - {channel: feishu, url_env: T_FEISHU, secret_env: T_FEISHU_SECRET}
  - {channel: webhook, url_env: T_HOOK, send: notices}
";

/// The conformance v3 program with a `notify` section, run at D.
fn program() -> Workdir {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    let pipeline = std::fs::read_to_string(repo().join("tests/conformance-v3/pipeline.yaml")).unwrap();
    w.create("program/pipeline.yaml", &format!("{pipeline}\n{NOTIFY}"));
    w.koc(&["run", "program/pipeline.yaml", "--as-of", D, "--quiet"])
        .expect_code(0);
    w
}

fn env(robots: &Robots, ding_secret: &str) -> Vec<(String, String)> {
    vec![
        ("T_WECOM".into(), robots.url("/wecom")),
        ("T_DING".into(), robots.url("/dingtalk")),
        ("T_DING_SECRET".into(), ding_secret.into()),
        ("T_FEISHU".into(), robots.url("/feishu")),
        ("T_FEISHU_SECRET".into(), FEISHU_SECRET.into()),
        ("T_HOOK".into(), robots.url("/hook")),
        ("KOC_NOTIFY_BACKOFF_MS".into(), "10".into()),
        ("KOC_NOTIFY_TIMEOUT_MS".into(), "500".into()),
    ]
}

fn notify(w: &Workdir, env: &[(String, String)], extra: &[&str]) -> Run {
    let mut args = vec!["notify", "program/pipeline.yaml", "--as-of", D];
    args.extend_from_slice(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    w.koc_env(&args, &env)
}

fn assert_no_secret(text: &str) {
    for s in [TOKEN, DING_SECRET, FEISHU_SECRET] {
        assert!(!text.contains(s), "a secret was shown: {s} in\n{text}");
    }
}

#[test]
fn a_run_then_notify_sends_each_robot_its_signed_digest_and_the_notices_once() {
    let robots = Robots::start();
    let w = program();
    let env = env(&robots, DING_SECRET);
    let first = notify(&w, &env, &[]);
    first.expect_code(0);
    assert_no_secret(&(first.stdout() + &first.stderr()));

    let wecom = robots.received("/wecom");
    assert_eq!(wecom.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&wecom[0].body).unwrap();
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(content.len() <= 4096, "{} bytes", content.len());
    assert!(
        content.contains("今日行动清单") && content.contains("核心指标"),
        "{content}"
    );
    assert!(
        content.contains("report.html"),
        "the digest says where the report is: {content}"
    );
    let ding = robots.received("/dingtalk");
    assert_eq!(ding.len(), 1, "signed correctly, sent once");
    let body: serde_json::Value = serde_json::from_str(&ding[0].body).unwrap();
    assert!(body["markdown"]["title"].as_str().unwrap().contains(D));
    assert_eq!(robots.received("/feishu").len(), 1, "signed correctly, sent once");

    let hook = robots.received("/hook");
    assert_eq!(hook.len(), 1, "46 notices: one batch");
    assert_eq!(hook[0].content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = hook[0].body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 46);
    assert_eq!(lines[0]["member_id"], "100071");
    assert_eq!(lines[0]["kind"], "layer_up");
    assert_eq!(lines[0]["value"], serde_json::Value::Null, "an empty cell is null");
    assert!(lines[0]["text"].as_str().unwrap().contains("荣誉校友"));

    let record = w.read(&format!("store/runs/{D}/notify.json"));
    assert_no_secret(&record);
    assert_eq!(record.matches("\"status\": \"sent\"").count(), 4, "{record}");

    // a second notify sends nothing; a re-run of D keeps the record; --force sends again
    let before = robots.count();
    notify(&w, &env, &[]).expect_code(0);
    w.koc(&["run", "program/pipeline.yaml", "--as-of", D, "--quiet"])
        .expect_code(0);
    notify(&w, &env, &[]).expect_code(0);
    assert_eq!(robots.count(), before, "nothing is sent twice");
    notify(&w, &env, &["--force"]).expect_code(0);
    assert_eq!(robots.count(), before + 4);
}

#[test]
fn a_bad_secret_fails_dingtalk_alone_and_a_later_notify_sends_only_it() {
    let robots = Robots::start();
    let w = program();
    let out = notify(&w, &env(&robots, "SECwrong"), &[]);
    out.expect_code(1);
    let said = out.stderr();
    assert!(said.contains("dingtalk:T_DING") && said.contains("310000"), "{said}");
    assert!(
        !said.contains("wecom") && !said.contains("feishu"),
        "only DingTalk failed: {said}"
    );
    assert_eq!(robots.received("/dingtalk").len(), 4, "four attempts");
    assert_eq!(robots.received("/wecom").len(), 1, "WeCom's message still went out");
    assert_no_secret(&(out.stdout() + &said + &w.read(&format!("store/runs/{D}/notify.json"))));

    notify(&w, &env(&robots, DING_SECRET), &[]).expect_code(0);
    assert_eq!(robots.received("/dingtalk").len(), 5);
    assert_eq!(robots.received("/wecom").len(), 1, "what went is not sent again");
}

#[test]
fn a_robot_answering_500_or_nothing_is_retried_then_named_with_its_answer() {
    let robots = Robots::start();
    let w = program();
    let mut env = env(&robots, DING_SECRET);
    env[0].1 = robots.url("/broken");
    env[3].1 = robots.url("/silent");
    env.retain(|(k, _)| k != "T_HOOK");
    let started = std::time::Instant::now();
    let out = notify(&w, &env, &[]);
    out.expect_code(1);
    let said = out.stderr();
    assert!(said.contains("wecom:T_WECOM") && said.contains("HTTP 500"), "{said}");
    assert!(said.contains("feishu:T_FEISHU"), "{said}");
    assert!(
        said.contains("webhook:T_HOOK") && said.contains("T_HOOK is not set"),
        "an unset variable fails its channel, named: {said}"
    );
    assert_eq!(robots.received("/broken").len(), 4);
    assert_eq!(robots.received("/silent").len(), 4);
    assert_eq!(robots.received("/dingtalk").len(), 1, "the others still went");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "timeouts bound the wait"
    );
    assert_no_secret(&said);
}

#[test]
fn a_dry_run_prints_each_request_without_secrets_and_sends_nothing() {
    let robots = Robots::start();
    let w = program();
    let out = notify(&w, &env(&robots, DING_SECRET), &["--dry-run"]);
    out.expect_code(0);
    let printed = out.stdout();
    assert!(
        printed.contains("── dingtalk:T_DING (dry run) ──\nPOST http://127.0.0.1:"),
        "{printed}"
    );
    assert!(
        !printed.contains("/dingtalk"),
        "the path may hold a token (Feishu): only the host is shown"
    );
    assert!(printed.contains("\"msgtype\": \"markdown\""), "{printed}");
    assert_no_secret(&printed);
    assert_eq!(robots.count(), 0);
    assert!(!w.path().join(format!("store/runs/{D}/notify.json")).exists());
}

#[test]
fn notify_needs_a_finished_run_and_a_notify_section() {
    let w = program();
    let out = w.koc(&["notify", "program/pipeline.yaml", "--as-of", "2025-05-31"]);
    out.expect_code(1);
    assert!(
        out.stderr().contains("no finished run for 2025-05-31"),
        "{}",
        out.stderr()
    );
    let pipeline = std::fs::read_to_string(repo().join("tests/conformance-v3/pipeline.yaml")).unwrap();
    w.create("program/plain.yaml", &pipeline);
    let out = w.koc(&["notify", "program/plain.yaml", "--as-of", D]);
    out.expect_code(2);
    assert!(out.stderr().contains("no notify section"), "{}", out.stderr());
    // notices to a webhook without a notices section, a URL in place of a variable's
    // name, a secret for an unsigned robot: pipeline errors at their lines
    let without_notices = &pipeline[..pipeline.find("notices:").unwrap()];
    w.create(
        "program/bad.yaml",
        &format!("{without_notices}notify:\n  - {{channel: webhook, url_env: KOC_HOOK, send: notices}}\n  - {{channel: wecom, url_env: 'https://qyapi.weixin.qq.com/x', secret_env: S}}\n"),
    );
    let out = w.koc(&["validate", "program/bad.yaml"]);
    out.expect_code(2);
    let said = out.stderr();
    assert!(said.contains("no notices section"), "{said}");
    assert!(said.contains("is not the name of an environment variable"), "{said}");
    assert!(
        !said.contains("qyapi"),
        "an address pasted into the pipeline is not repeated: {said}"
    );
    assert!(said.contains("is not signed"), "{said}");
}
