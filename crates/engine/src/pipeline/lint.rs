//! What `koc validate` can know beyond "it parses" (SPEC §3): the literal a condition
//! compares with `action` or `layer` must exist (with a did-you-mean), text and
//! numbers are not compared with each other, and rules that can never pay in full
//! are pointed out. Works on the tokens of the SQL text (sqlparser's tokenizer, the
//! one polars' SQL uses), so each finding has the line and column of the value.
use crate::pipeline::config::{suggest, Loaded};
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// Columns holding text (compared with 'strings' only).
const TEXT: [&str; 9] = [
    "event_id",
    "member_id",
    "action",
    "topic",
    "task_type",
    "content_id",
    "channel",
    "layer",
    "occurred_at",
];
/// Event fields that hold numbers (everything a metric or built-in yields is a number too).
const NUMBERS: [&str; 5] = ["likes", "comments", "shares", "views", "awarded_points"];

/// SQL words that are operators, not columns.
const OPERATOR_WORDS: [&str; 10] = [
    "and", "or", "not", "in", "is", "like", "between", "null", "true", "false",
];

/// The ids literals are checked against.
pub struct Known<'a> {
    /// Mapped canonical actions (None: the pipeline maps none, so any label may occur).
    pub actions: Option<&'a [String]>,
    pub layers: &'a [String],
    /// Metrics and built-ins (numbers).
    pub metrics: &'a [String],
}

/// One literal compared with a column, where it stands in the expression.
struct Comparison {
    column: String,
    literal: Literal,
    line: u64,
    col: u64,
}

enum Literal {
    Text(String),
    Number(String),
}

/// Errors in one expression, each at `file:line:col` of the value.
/// `at`: the expression's path in the file.
pub fn expression(loaded: &Loaded, text: &str, at: &str, what: &str, known: &Known) -> Vec<String> {
    let mut out = Vec::new();
    for c in comparisons(text) {
        let at = position(loaded, at, c.line, c.col);
        let is_text = TEXT.contains(&c.column.as_str()) || c.column == "date";
        let is_number = NUMBERS.contains(&c.column.as_str()) || known.metrics.contains(&c.column);
        match &c.literal {
            Literal::Number(n) if is_text => out.push(format!(
                "{at}: {what}: '{}' holds text but is compared with the number {n}\n  fix: compare it with a quoted value ('{n}'), or use a number column",
                c.column
            )),
            Literal::Text(s) if is_number => out.push(format!(
                "{at}: {what}: '{}' is a number but is compared with the text '{s}'\n  fix: drop the quotes ({s}) or compare a text column",
                c.column
            )),
            Literal::Text(s) if c.column == "action" => {
                if let Some(actions) = known.actions {
                    if !actions.iter().any(|a| a == s) {
                        out.push(unknown_value(&at, what, "action", s, actions));
                    }
                }
            }
            Literal::Text(s) if c.column == "layer" && !known.layers.iter().any(|l| l == s) => {
                out.push(unknown_value(&at, what, "layer", s, known.layers));
            }
            _ => {}
        }
    }
    out
}

/// Literals compared with `column` in `text` (for warnings against stored values).
pub fn literals_of(text: &str, column: &str) -> Vec<String> {
    comparisons(text)
        .into_iter()
        .filter(|c| c.column == column)
        .filter_map(|c| match c.literal {
            Literal::Text(s) => Some(s),
            Literal::Number(_) => None,
        })
        .collect()
}

fn unknown_value(at: &str, what: &str, column: &str, value: &str, known: &[String]) -> String {
    let fix = match suggest(value, known.iter().map(String::as_str)) {
        Some(s) => format!("did you mean '{s}'?"),
        None => format!("the {column}s are: {}", known.join(", ")),
    };
    format!("{at}: {what}: {column} '{value}' does not exist, so this comparison is never true\n  fix: {fix}")
}

/// `file:line:col` of a token: the expression's own place in the pipeline text,
/// moved by the token's place inside it.
fn position(loaded: &Loaded, at: &str, line: u64, col: u64) -> String {
    let base = loaded.at(at);
    let mut parts = base.rsplitn(3, ':');
    let (Some(c0), Some(l0), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return base;
    };
    let (Ok(c0), Ok(l0)) = (c0.parse::<u64>(), l0.parse::<u64>()) else {
        return base;
    };
    if line <= 1 {
        format!("{file}:{l0}:{}", c0 + col - 1)
    } else {
        format!("{file}:{}:{col}", l0 + line - 1)
    }
}

/// Every `column <op> literal`, `literal <op> column` and `column [NOT] IN (literals)`.
fn comparisons(text: &str) -> Vec<Comparison> {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize_with_location() else {
        return vec![];
    };
    let t: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let column = |i: usize| match t.get(i).map(|x| &x.token) {
        Some(Token::Word(w))
            if (w.quote_style.is_none() || w.quote_style == Some('"'))
                && !OPERATOR_WORDS.contains(&w.value.to_ascii_lowercase().as_str()) =>
        {
            Some(w.value.to_ascii_lowercase())
        }
        _ => None,
    };
    let literal = |i: usize| -> Option<(Literal, u64, u64)> {
        let tok = t.get(i)?;
        let lit = match &tok.token {
            Token::SingleQuotedString(s) => Literal::Text(s.clone()),
            Token::Number(n, _) => Literal::Number(n.clone()),
            _ => return None,
        };
        Some((lit, tok.span.start.line, tok.span.start.column))
    };
    let is_cmp = |i: usize| {
        matches!(
            t.get(i).map(|x| &x.token),
            Some(Token::Eq | Token::DoubleEq | Token::Neq | Token::Lt | Token::Gt | Token::LtEq | Token::GtEq)
        )
    };
    let is_kw = |i: usize, kw: &str| matches!(t.get(i).map(|x| &x.token), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw));
    let mut out = Vec::new();
    let mut push = |column: String, (literal, line, col): (Literal, u64, u64)| {
        out.push(Comparison {
            column,
            literal,
            line,
            col,
        })
    };
    for i in 0..t.len() {
        let Some(name) = column(i) else { continue };
        if is_cmp(i + 1) {
            if let Some(l) = literal(i + 2) {
                push(name.clone(), l);
            }
        }
        if i >= 2 && is_cmp(i - 1) {
            if let Some(l) = literal(i - 2) {
                push(name.clone(), l);
            }
        }
        let mut j = i + 1;
        if is_kw(j, "not") {
            j += 1;
        }
        if is_kw(j, "in") && matches!(t.get(j + 1).map(|x| &x.token), Some(Token::LParen)) {
            let mut k = j + 2;
            while let Some(l) = literal(k) {
                push(name.clone(), l);
                if !matches!(t.get(k + 1).map(|x| &x.token), Some(Token::Comma)) {
                    break;
                }
                k += 2;
            }
        }
    }
    out
}

/// Warnings (exit 0): rules whose points are above a daily cap that applies to them.
pub fn rule_warnings(loaded: &Loaded) -> Vec<String> {
    let mut out = Vec::new();
    let Some(points) = &loaded.pipeline.points else {
        return out;
    };
    for (i, r) in points.rules.iter().enumerate() {
        let Some(pays) = r.points.or(r.max_per_event) else {
            continue;
        };
        for (cap, name) in [
            (r.daily_cap, "its own daily_cap"),
            (points.daily_cap, "points.daily_cap"),
        ] {
            if let Some(cap) = cap.filter(|c| pays > *c) {
                out.push(format!(
                    "{}: rule '{}' pays {pays} but {name} is {cap}: every award is cut to {cap}",
                    loaded.at(&format!("points.rules[{i}].id")),
                    r.id
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comparisons_in_every_form() {
        let c = comparisons("action = 'feature' AND 'x' <> topic AND layer NOT IN ('core', 'activ') AND likes > 5");
        let pairs: Vec<(String, String)> = c
            .iter()
            .map(|c| {
                let lit = match &c.literal {
                    Literal::Text(s) => s.clone(),
                    Literal::Number(n) => n.clone(),
                };
                (c.column.clone(), lit)
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("action", "feature"),
                ("topic", "x"),
                ("layer", "core"),
                ("layer", "activ"),
                ("likes", "5")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!((c[0].line, c[0].col), (1, 10));
    }
}
