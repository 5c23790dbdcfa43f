//! The requests `koc notify` sends (SPEC §17), built without I/O: the digest as each
//! group robot's Markdown message with its signature, and the notices as JSON lines.
//! Secrets go only into the request itself; `Request::shown` leaves them out.
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// WeCom refuses a Markdown message longer than this (bytes).
pub const WECOM_MAX_BYTES: usize = 4096;
/// DingTalk and Feishu take more; the digest is kept under this to stay readable.
pub const OTHER_MAX_BYTES: usize = 16_000;
/// Rows of notices per POST to a webhook.
pub const NOTICES_PER_BATCH: usize = 1000;

/// One HTTP POST.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub url: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// A group robot, whose own error code in an HTTP 200 answer is a failure; for a
    /// plain webhook any 2xx is success, whatever its body says.
    pub robot: bool,
    /// Texts that must never be printed or recorded (secret, signature, the URL's query).
    pub secrets: Vec<String>,
}

impl Request {
    /// The request as `--dry-run` prints it: the URL without its query, the body with
    /// every secret replaced.
    pub fn shown(&self) -> String {
        // scheme and host only: a robot's token may stand in the path (Feishu) or the query
        let url = match self.url.split_once("://") {
            Some((scheme, rest)) => format!(
                "{scheme}://{}/…",
                rest.split(['/', '?', '#']).next().unwrap_or_default()
            ),
            None => "…".to_string(),
        };
        let text = match serde_json::from_slice::<Value>(&self.body) {
            Ok(v) if self.content_type == "application/json" => serde_json::to_string_pretty(&v).unwrap_or_default(),
            _ => String::from_utf8_lossy(&self.body).into_owned(),
        };
        let body = redact(&text, &self.secrets);
        format!("POST {url}\nContent-Type: {}\n\n{body}", self.content_type)
    }
}

/// `text` with each of `secrets` (and the query of any URL among them) as `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    // the longest first: a URL holds its query and the signature, replaced whole
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

fn hmac_sha256_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's signature: base64 of HMAC-SHA256 keyed by the secret over
/// "timestamp\nsecret" (timestamp in milliseconds).
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    hmac_sha256_base64(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes())
}

/// Feishu's signature: base64 of HMAC-SHA256 keyed by "timestamp\nsecret" over an
/// empty message (timestamp in seconds).
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    hmac_sha256_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The digest's title: its first line without the Markdown heading marks.
pub fn title_of(digest: &str) -> String {
    digest
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim_start_matches('#')
        .trim()
        .to_string()
}

fn json_request(url: &str, body: Value, mut secrets: Vec<String>) -> Request {
    if let Some((_, query)) = url.split_once('?') {
        secrets.push(query.to_string());
    }
    secrets.push(url.to_string());
    Request {
        url: url.to_string(),
        content_type: "application/json",
        body: serde_json::to_vec(&body).expect("a JSON value serializes"),
        robot: true,
        secrets,
    }
}

/// 企业微信群机器人: `{"msgtype": "markdown", "markdown": {"content"}}`, at most 4,096 bytes.
pub fn wecom(url: &str, digest: &str, rest: &str) -> Request {
    let content = crate::output::digest::fit(digest, WECOM_MAX_BYTES, rest);
    json_request(
        url,
        json!({"msgtype": "markdown", "markdown": {"content": content}}),
        vec![],
    )
}

/// 钉钉群机器人: Markdown with `timestamp` and `sign` added to the URL's query when signed.
pub fn dingtalk(url: &str, secret: Option<&str>, timestamp_ms: i64, digest: &str, rest: &str) -> Request {
    let text = crate::output::digest::fit(digest, OTHER_MAX_BYTES, rest);
    let body = json!({"msgtype": "markdown", "markdown": {"title": title_of(digest), "text": text}});
    match secret {
        Some(secret) => {
            let sign = dingtalk_sign(timestamp_ms, secret);
            let encoded = percent_encoding::utf8_percent_encode(&sign, percent_encoding::NON_ALPHANUMERIC).to_string();
            let glue = if url.contains('?') { '&' } else { '?' };
            let signed = format!("{url}{glue}timestamp={timestamp_ms}&sign={encoded}");
            let mut secrets = vec![secret.to_string(), sign, encoded, url.to_string()];
            secrets.extend(url.split_once('?').map(|(_, q)| q.to_string()));
            json_request(&signed, body, secrets)
        }
        None => json_request(url, body, vec![]),
    }
}

/// 飞书群机器人: an interactive card with the digest as Markdown; `timestamp` and
/// `sign` in the body when signed.
pub fn feishu(url: &str, secret: Option<&str>, timestamp_s: i64, digest: &str, rest: &str) -> Request {
    let text = crate::output::digest::fit(digest, OTHER_MAX_BYTES, rest);
    let mut body = json!({
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": title_of(digest)}},
            "elements": [{"tag": "markdown", "content": text}],
        },
    });
    let mut secrets = vec![];
    if let Some(secret) = secret {
        let sign = feishu_sign(timestamp_s, secret);
        body["timestamp"] = Value::from(timestamp_s.to_string());
        body["sign"] = Value::from(sign.clone());
        secrets = vec![secret.to_string(), sign];
    }
    json_request(url, body, secrets)
}

/// A batch of notices as JSON lines: one object per row, the six columns as strings,
/// an empty cell as null.
pub fn notices_batch(url: &str, columns: &[String], rows: &[Vec<String>]) -> Request {
    let mut body = Vec::new();
    for row in rows {
        let object: serde_json::Map<String, Value> = columns
            .iter()
            .zip(row)
            .map(|(c, v)| {
                (
                    c.clone(),
                    if v.is_empty() {
                        Value::Null
                    } else {
                        Value::from(v.as_str())
                    },
                )
            })
            .collect();
        body.extend(serde_json::to_vec(&object).expect("a JSON object serializes"));
        body.push(b'\n');
    }
    let mut secrets = vec![url.to_string()];
    if let Some((_, query)) = url.split_once('?') {
        secrets.push(query.to_string());
    }
    Request {
        url: url.to_string(),
        content_type: "application/x-ndjson",
        body,
        robot: false,
        secrets,
    }
}

/// A robot's own verdict in an HTTP 200 answer: a non-zero `errcode` (WeCom, DingTalk)
/// or `code` (Feishu) is a failure, with its message.
pub fn robot_error(answer: &str) -> Option<String> {
    let v: Value = serde_json::from_str(answer).ok()?;
    let code = v.get("errcode").or_else(|| v.get("code"))?;
    let failed = match code {
        Value::Number(n) => n.as_i64() != Some(0),
        Value::String(s) => s != "0",
        _ => false,
    };
    failed.then(|| {
        let msg = v
            .get("errmsg")
            .or_else(|| v.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        format!("error code {code}: {msg}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of DingTalk's documentation: secret, timestamp and the signature
    /// computed the same way by `openssl dgst -sha256 -hmac` (checked by hand).
    #[test]
    fn dingtalk_signs_timestamp_newline_secret_with_the_secret() {
        let sign = dingtalk_sign(1_700_000_000_000, "SECabc");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"SECabc").unwrap();
        mac.update(b"1700000000000\nSECabc");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sign, want);
        let r = dingtalk(
            "https://oapi.example/robot/send?access_token=T0KEN",
            Some("SECabc"),
            1_700_000_000_000,
            "## t\nbody",
            "…",
        );
        assert!(r
            .url
            .starts_with("https://oapi.example/robot/send?access_token=T0KEN&timestamp=1700000000000&sign="));
        let sent_sign = r.url.split("&sign=").nth(1).unwrap();
        assert!(
            !sent_sign.contains(['+', '/', '=']),
            "the signature is URL-encoded: {sent_sign}"
        );
        let shown = r.shown();
        assert!(
            !shown.contains("T0KEN") && !shown.contains("SECabc") && !shown.contains(&sign),
            "{shown}"
        );
        // an answer that echoes the signed URL keeps none of it
        let echoed = redact(&format!("404 for {}", r.url), &r.secrets);
        assert!(!echoed.contains("T0KEN") && !echoed.contains("sign="), "{echoed}");
    }

    #[test]
    fn feishu_signs_with_timestamp_newline_secret_as_key_over_nothing() {
        let r = feishu(
            "https://open.example/hook/ABC",
            Some("s3cret"),
            1_700_000_000,
            "## 日报\n内容",
            "…",
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["timestamp"], "1700000000");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"1700000000\ns3cret").unwrap();
        mac.update(b"");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(body["sign"], want.as_str());
        assert_eq!(body["card"]["header"]["title"]["content"], "日报");
        assert!(!r.shown().contains("s3cret") && !r.shown().contains(&want));
    }

    #[test]
    fn a_wecom_message_fits_in_4096_bytes() {
        let digest = "## 日报\n".to_string() + &"- 一行内容\n".repeat(1000);
        let r = wecom("https://qyapi.example/send?key=K", &digest, "（完整内容见报告）");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let content = body["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= WECOM_MAX_BYTES && content.ends_with("（完整内容见报告）"));
    }

    #[test]
    fn a_robots_error_code_is_a_failure_even_in_a_200() {
        assert_eq!(robot_error(r#"{"errcode":0,"errmsg":"ok"}"#), None);
        assert_eq!(robot_error(r#"{"code":0,"msg":"success"}"#), None);
        assert_eq!(
            robot_error(r#"{"errcode":310000,"errmsg":"sign not match"}"#).as_deref(),
            Some("error code 310000: sign not match")
        );
        assert_eq!(
            robot_error(r#"{"code":19021,"msg":"sign match fail"}"#).as_deref(),
            Some("error code 19021: sign match fail")
        );
        assert_eq!(robot_error("not json"), None);
    }

    #[test]
    fn notices_go_as_json_lines_with_empty_cells_as_null() {
        let cols: Vec<String> = ["member_id", "nickname", "value"].map(String::from).to_vec();
        let r = notices_batch("http://h/x", &cols, &[vec!["m1".into(), "".into(), "12".into()]]);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "{\"member_id\":\"m1\",\"nickname\":null,\"value\":\"12\"}\n"
        );
        assert_eq!(r.content_type, "application/x-ndjson");
    }
}
