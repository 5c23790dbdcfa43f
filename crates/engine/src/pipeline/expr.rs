//! SQL conditions and formulas (SPEC §1 "expressions"): parsed once into sqlparser's
//! AST, which serves the checks (`lint`), `koc explain` (its parts) and the evaluation:
//! polars' SQL support translates the AST's text into a polars expression evaluated
//! over a DataFrame of candidates (polars takes SQL as text only).
use crate::error::usage_err;
use anyhow::Result;
use polars::prelude::*;

/// A parsed expression with the text and the place it came from, so that an
/// evaluation error names the rule and its `file:line:col`.
#[derive(Clone, Debug)]
pub struct SqlExpr {
    pub text: String,
    /// The parsed SQL, with the place of each name and value inside `text`.
    pub ast: sqlparser::ast::Expr,
    pub expr: Expr,
    /// The rule path (`points.rules[id=x].where`).
    pub what: String,
    /// `file:line:col` in the pipeline file (empty for a derived expression).
    pub location: String,
}

impl SqlExpr {
    /// "file:line:col: what: " before a message about this expression.
    fn place(&self) -> String {
        match (self.location.is_empty(), self.what.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("{}: ", self.what),
            (false, true) => format!("{}: ", self.location),
            (false, false) => format!("{}: {}: ", self.location, self.what),
        }
    }
}

/// Parse `text`; every name it uses must be one of `allowed`. `what` names the
/// expression's place in the pipeline, `location` is its file:line:col.
pub fn parse(text: &str, allowed: &[String], what: &str, location: &str) -> Result<SqlExpr> {
    check_size(text, what, location)?;
    let does_not_parse = |why: String| {
        usage_err(format!(
            "{location}: {what}: the expression \"{text}\" does not parse: {why}"
        ))
    };
    let ast = parse_ast(text).map_err(|e| does_not_parse(e.to_string()))?;
    translated(text, ast, allowed, what, location)
}

/// One expression of SQL text, all of it (a trailing word is an error, not ignored).
fn parse_ast(text: &str) -> std::result::Result<sqlparser::ast::Expr, sqlparser::parser::ParserError> {
    use sqlparser::tokenizer::Token;
    let dialect = sqlparser::dialect::GenericDialect {};
    let mut parser = sqlparser::parser::Parser::new(&dialect).try_with_sql(text)?;
    let ast = parser.parse_expr()?;
    match parser.peek_token().token {
        Token::EOF => Ok(ast),
        other => Err(sqlparser::parser::ParserError::ParserError(format!(
            "unexpected '{other}' after the expression"
        ))),
    }
}

/// The polars expression of a parsed AST, its names checked against `allowed`.
fn translated(
    text: &str,
    ast: sqlparser::ast::Expr,
    allowed: &[String],
    what: &str,
    location: &str,
) -> Result<SqlExpr> {
    let expr = polars::sql::sql_expr(ast.to_string()).map_err(|e| {
        usage_err(format!(
            "{location}: {what}: the expression \"{text}\" does not parse: {}",
            clean_polars_message(&e.to_string())
        ))
    })?;
    for name in expr.clone().meta().root_names() {
        let name = name.as_str();
        if !allowed.iter().any(|a| a == name) {
            let quote = format!("if '{name}' is a value, quote it: '{name}'");
            let hint = match crate::pipeline::config::suggest(name, allowed.iter().map(String::as_str)) {
                Some(s) => format!(" (did you mean '{s}'? {quote})"),
                None => format!(" ({quote})"),
            };
            return Err(usage_err(format!(
                "{location}: {what}: the expression \"{text}\" names '{name}', which it cannot see{hint}\n  fix: it may use: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(SqlExpr {
        text: text.to_string(),
        ast,
        expr,
        what: what.to_string(),
        location: location.to_string(),
    })
}

impl SqlExpr {
    /// The parts joined by a top-level AND (`likes BETWEEN 5 AND 10` and a parenthesized
    /// OR stay whole), each with its own polars expression: `koc explain` says which
    /// part is false.
    pub fn conjuncts(&self, allowed: &[String]) -> Result<Vec<SqlExpr>> {
        use sqlparser::ast::{BinaryOperator, Expr as Sql};
        fn split(e: &Sql, out: &mut Vec<Sql>) {
            match e {
                Sql::BinaryOp {
                    left,
                    op: BinaryOperator::And,
                    right,
                } => {
                    split(left, out);
                    split(right, out);
                }
                Sql::Nested(inner)
                    if matches!(
                        **inner,
                        Sql::BinaryOp {
                            op: BinaryOperator::And,
                            ..
                        }
                    ) =>
                {
                    split(inner, out)
                }
                other => out.push(other.clone()),
            }
        }
        let mut parts = Vec::new();
        split(&self.ast, &mut parts);
        parts
            .into_iter()
            .map(|ast| translated(&ast.to_string(), ast, allowed, &self.what, &self.location))
            .collect()
    }

    /// Whether the condition holds or not for each row on its own, whatever the other
    /// rows: no aggregate (`AVG(likes)`), no window (`OVER`), only scalar functions koc
    /// knows (an unknown function counts as not row-wise: the safe side). Such a
    /// condition may be evaluated once over every event and its mask sliced; any other
    /// is evaluated over the rows it is meant for.
    pub fn is_row_wise(&self) -> bool {
        row_wise(&self.ast)
    }
}

fn row_wise(ast: &sqlparser::ast::Expr) -> bool {
    {
        use sqlparser::ast::{Expr as Sql, ObjectNamePart};
        use std::ops::ControlFlow;
        let found = sqlparser::ast::visit_expressions(ast, |e| match e {
            Sql::Function(f) => {
                let name = match f.name.0.last() {
                    Some(ObjectNamePart::Identifier(id)) => id.value.to_ascii_lowercase(),
                    _ => String::new(),
                };
                if f.over.is_some() || !SCALAR.contains(&name.as_str()) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }
            _ => ControlFlow::Continue(()),
        });
        found.is_continue()
    }
}

/// Scalar functions of polars' SQL whose value depends on their row alone.
const SCALAR: [&str; 30] = [
    "abs",
    "cast",
    "try_cast",
    "coalesce",
    "nullif",
    "lower",
    "upper",
    "length",
    "char_length",
    "octet_length",
    "trim",
    "ltrim",
    "rtrim",
    "substr",
    "substring",
    "concat",
    "starts_with",
    "ends_with",
    "strpos",
    "replace",
    "round",
    "floor",
    "ceil",
    "ceiling",
    "sqrt",
    "greatest",
    "least",
    "left",
    "right",
    "reverse",
];

/// The most terms (AND/OR/NOT and operators) and the deepest nesting an expression
/// may have: the SQL parser recurses once per term, and 6,000 ORs overflow its stack.
pub const MAX_TERMS: usize = 500;
pub const MAX_DEPTH: usize = 32;

/// Refuse an expression too big to parse safely, before the parser sees it.
fn check_size(text: &str, what: &str, location: &str) -> Result<()> {
    let (mut depth, mut deepest, mut terms, mut quoted) = (0usize, 0usize, 0usize, false);
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c == '\'' {
            quoted = !quoted;
            continue;
        }
        if quoted {
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if ["and", "or", "not"].contains(&word.to_ascii_lowercase().as_str()) {
            terms += 1;
        }
        word.clear();
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '=' | '<' | '>' => terms += 1,
            _ => {}
        }
    }
    if terms > MAX_TERMS || deepest > MAX_DEPTH {
        return Err(usage_err(format!(
            "{location}: {what}: the expression is too large ({terms} operators, parentheses {deepest} deep; \
             at most {MAX_TERMS} and {MAX_DEPTH})\n  fix: use IN ('a', 'b', …) instead of long OR chains, \
             or a metric for a complex condition"
        )));
    }
    Ok(())
}

/// An expression that parses but cannot be evaluated (text compared with a number, say)
/// is the pipeline's fault: exit 2, naming the expression.
fn eval_error(e: &SqlExpr, err: &PolarsError) -> anyhow::Error {
    usage_err(format!(
        "{}the expression \"{}\" cannot be evaluated: {}\n  fix: compare text with 'text' and numbers with numbers",
        e.place(),
        e.text,
        clean_polars_message(&err.to_string())
    ))
}

/// The names the given expressions mention, for building only the columns they need.
pub fn names_in<'a>(exprs: impl IntoIterator<Item = &'a SqlExpr>) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for e in exprs {
        out.extend(e.expr.clone().meta().root_names().iter().map(|n| n.to_string()));
    }
    out
}

fn clean_polars_message(msg: &str) -> String {
    msg.lines().next().unwrap_or(msg).trim().to_string()
}

/// Evaluate a condition for every row: NULL counts as false (SPEC §1).
pub fn eval_bool(e: &SqlExpr, df: &DataFrame) -> Result<Vec<bool>> {
    if df.height() == 0 {
        return Ok(vec![]);
    }
    let out = df
        .clone()
        .lazy()
        .select([e
            .expr
            .clone()
            .cast(DataType::Boolean)
            .fill_null(lit(false))
            .alias("__c")])
        .collect()
        .map_err(|err| eval_error(e, &err))?;
    let col = out.column("__c")?.bool()?.clone();
    let mut v: Vec<bool> = col.iter().map(|b| b.unwrap_or(false)).collect();
    if v.len() == 1 && df.height() > 1 {
        // a constant expression (TRUE) broadcasts
        v = vec![v[0]; df.height()];
    }
    if v.len() != df.height() {
        return Err(usage_err(format!(
            "{}the expression \"{}\" gives {} values for {} rows: a condition must hold or not for each row",
            e.place(),
            e.text,
            v.len(),
            df.height()
        )));
    }
    Ok(v)
}

/// Evaluate many conditions over one frame in one polars `select` (one pass over
/// the frame instead of a clone and collect per condition); None stays None.
/// NULL counts as false. If the combined query fails, each condition is evaluated
/// alone so that the error names the one at fault.
pub fn eval_masks(exprs: &[Option<&SqlExpr>], df: &DataFrame) -> Result<Vec<Option<Vec<bool>>>> {
    let present: Vec<(usize, &SqlExpr)> = exprs
        .iter()
        .enumerate()
        .filter_map(|(k, e)| e.map(|e| (k, e)))
        .collect();
    let mut out: Vec<Option<Vec<bool>>> = vec![None; exprs.len()];
    if present.is_empty() {
        return Ok(out);
    }
    if df.height() == 0 {
        for (k, _) in &present {
            out[*k] = Some(vec![]);
        }
        return Ok(out);
    }
    let selected: Vec<Expr> = present
        .iter()
        .map(|(k, e)| {
            e.expr
                .clone()
                .cast(DataType::Boolean)
                .fill_null(lit(false))
                .alias(format!("__c{k}"))
        })
        .collect();
    let result = match df.clone().lazy().select(selected).collect() {
        Ok(r) => r,
        Err(_) => {
            for (k, e) in &present {
                out[*k] = Some(eval_bool(e, df)?);
            }
            return Ok(out);
        }
    };
    for (k, _) in &present {
        let col = result.column(&format!("__c{k}"))?.bool()?.clone();
        let mut v: Vec<bool> = col.iter().map(|b| b.unwrap_or(false)).collect();
        if v.len() == 1 && df.height() > 1 {
            v = vec![v[0]; df.height()];
        }
        if v.len() != df.height() {
            // an aggregate (a sum over all rows, say) is not a condition per row
            let e = present.iter().find(|(j, _)| j == k).map(|(_, e)| *e);
            return Err(usage_err(format!(
                "{}the expression \"{}\" gives {} values for {} rows: a condition must hold or not for each row\n  fix: compare each row's own values; use a metric for totals",
                e.map(SqlExpr::place).unwrap_or_default(),
                e.map(|e| e.text.as_str()).unwrap_or(""),
                v.len(),
                df.height()
            )));
        }
        out[*k] = Some(v);
    }
    Ok(out)
}

/// Evaluate a numeric formula for every row (NULL stays None).
pub fn eval_f64(e: &SqlExpr, df: &DataFrame) -> Result<Vec<Option<f64>>> {
    if df.height() == 0 {
        return Ok(vec![]);
    }
    let out = df
        .clone()
        .lazy()
        .select([e.expr.clone().cast(DataType::Float64).alias("__v")])
        .collect()
        .map_err(|err| eval_error(e, &err))?;
    let col = out.column("__v")?.f64()?.clone();
    let mut v: Vec<Option<f64>> = col.iter().collect();
    if v.len() == 1 && df.height() > 1 {
        v = vec![v[0]; df.height()];
    }
    Ok(v)
}

/// Column builders for the frames expressions run on.
pub fn text_col(name: &str, values: Vec<Option<&str>>) -> Column {
    Column::new(name.into(), values)
}

pub fn num_col(name: &str, values: Vec<Option<f64>>) -> Column {
    Column::new(name.into(), values)
}

pub fn bool_col(name: &str, values: Vec<bool>) -> Column {
    Column::new(name.into(), values)
}

pub fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    let height = columns.first().map(|c| c.len()).unwrap_or(0);
    Ok(DataFrame::new(height, columns)?)
}

#[cfg(test)]
mod tests {
    fn is_row_wise(sql: &str) -> bool {
        super::row_wise(&super::parse_ast(sql).unwrap())
    }

    #[test]
    fn row_wise_conditions_are_told_from_aggregates_and_windows() {
        for sql in [
            "action = 'post'",
            "action IN ('post', 'featured') AND likes >= 10",
            "NOT (topic IS NULL) OR lower(channel) = 'app'",
            "CASE WHEN likes > 5 THEN TRUE ELSE FALSE END",
            "CAST(likes AS DOUBLE) / (comments + 1) > 2",
            "\"sum\" > 3", // a quoted column named like a function
        ] {
            assert!(is_row_wise(sql), "{sql}");
        }
        for sql in [
            "likes > AVG(likes)",
            "likes = max(likes)",
            "COUNT(*) > 3",
            "rank() OVER (PARTITION BY member_id ORDER BY likes) = 1",
            "some_new_function(likes) > 1", // unknown: the safe side
            "likes = \"max\"(likes)",       // quoted, still MAX
        ] {
            assert!(!is_row_wise(sql), "{sql}");
        }
    }

    /// `koc explain` says which part of a condition is false: the parts are split at
    /// the top-level ANDs only, each a condition of its own.
    #[test]
    fn a_condition_splits_at_its_top_level_ands_only() {
        let names = ["posts_90d", "likes_30d", "featured_90d", "a", "b", "days_since_join"].map(String::from);
        let parts = |sql: &str| -> Vec<String> {
            let e = super::parse(sql, &names, "scouting.candidates", "p.yaml:3:15").unwrap();
            e.conjuncts(&names).unwrap().into_iter().map(|p| p.text).collect()
        };
        assert_eq!(
            parts("posts_90d >= 2 AND (likes_30d > 5 OR featured_90d >= 1) and likes_30d BETWEEN 5 AND 10"),
            [
                "posts_90d >= 2",
                "(likes_30d > 5 OR featured_90d >= 1)",
                "likes_30d BETWEEN 5 AND 10"
            ]
        );
        assert_eq!(parts("(a = 1 AND b = 'x and y')"), ["a = 1", "b = 'x and y'"]);
        assert_eq!(parts("days_since_join <= 60"), ["days_since_join <= 60"]);
    }
}
