//! What `koc validate` can know beyond "it parses" (SPEC §3): the literal a condition
//! compares with `action` or `layer` must exist (with a did-you-mean), text and
//! numbers are not compared with each other, and rules that can never pay in full
//! are pointed out. Works on each expression's parsed AST (the one the evaluation
//! uses), whose values keep their line and column, so each finding has them.
use crate::pipeline::config::{suggest, Loaded};
use crate::pipeline::expr::SqlExpr;
use sqlparser::ast::{BinaryOperator, Expr as Sql, Value};

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
pub fn expression(e: &SqlExpr, known: &Known) -> Vec<String> {
    let mut out = Vec::new();
    let what = e.what.as_str();
    for c in comparisons(&e.ast) {
        let at = position(&e.location, c.line, c.col);
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

/// Literals compared with `column` in an expression (for warnings against stored values).
pub fn literals_of(e: &SqlExpr, column: &str) -> Vec<String> {
    comparisons(&e.ast)
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

/// `file:line:col` of a value: the expression's own place in the pipeline text
/// (`location`), moved by the value's place inside it.
fn position(location: &str, line: u64, col: u64) -> String {
    let mut parts = location.rsplitn(3, ':');
    let (Some(c0), Some(l0), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return location.to_string();
    };
    let (Ok(c0), Ok(l0)) = (c0.parse::<u64>(), l0.parse::<u64>()) else {
        return location.to_string();
    };
    if line <= 1 {
        format!("{file}:{l0}:{}", c0 + col - 1)
    } else {
        format!("{file}:{}:{col}", l0 + line - 1)
    }
}

/// Every `column <op> literal`, `literal <op> column` and `column [NOT] IN (literals)`,
/// anywhere in the expression.
fn comparisons(ast: &Sql) -> Vec<Comparison> {
    use std::ops::ControlFlow;
    fn column(e: &Sql) -> Option<String> {
        match e {
            Sql::Identifier(id) if id.quote_style.is_none() || id.quote_style == Some('"') => {
                Some(id.value.to_ascii_lowercase())
            }
            Sql::Nested(inner) => column(inner),
            _ => None,
        }
    }
    fn literal(e: &Sql) -> Option<(Literal, u64, u64)> {
        match e {
            Sql::Value(v) => {
                let lit = match &v.value {
                    Value::SingleQuotedString(s) => Literal::Text(s.clone()),
                    Value::Number(n, _) => Literal::Number(n.to_string()),
                    _ => return None,
                };
                Some((lit, v.span.start.line, v.span.start.column))
            }
            Sql::Nested(inner) => literal(inner),
            _ => None,
        }
    }
    let is_cmp = |op: &BinaryOperator| {
        matches!(
            op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::Gt
                | BinaryOperator::LtEq
                | BinaryOperator::GtEq
        )
    };
    let mut out = Vec::new();
    let mut push = |column: String, (literal, line, col): (Literal, u64, u64)| {
        out.push(Comparison {
            column,
            literal,
            line,
            col,
        })
    };
    let _ = sqlparser::ast::visit_expressions(ast, |e| {
        match e {
            Sql::BinaryOp { left, op, right } if is_cmp(op) => {
                if let (Some(c), Some(l)) = (column(left), literal(right)) {
                    push(c, l);
                } else if let (Some(l), Some(c)) = (literal(left), column(right)) {
                    push(c, l);
                }
            }
            Sql::InList { expr, list, .. } => {
                if let Some(c) = column(expr) {
                    for l in list.iter().filter_map(literal) {
                        push(c.clone(), l);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
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
        let sql = "action = 'feature' AND 'x' <> topic AND layer NOT IN ('core', 'activ') AND likes > 5";
        let c = comparisons(
            &sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
                .try_with_sql(sql)
                .unwrap()
                .parse_expr()
                .unwrap(),
        );
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
