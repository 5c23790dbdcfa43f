//! SQL conditions and formulas (SPEC §1 "expressions"), translated by polars' SQL
//! support into polars expressions and evaluated over a DataFrame of candidates.
use crate::error::usage_err;
use anyhow::Result;
use polars::prelude::*;

/// A parsed expression with the text and the place it came from, so that an
/// evaluation error names the rule and its `file:line:col`.
#[derive(Clone, Debug)]
pub struct SqlExpr {
    pub text: String,
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
    let expr = polars::sql::sql_expr(text).map_err(|e| {
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
        expr,
        what: what.to_string(),
        location: location.to_string(),
    })
}

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

/// Whether a condition holds or not for each row on its own, whatever the other rows:
/// no aggregate (`AVG(likes)`), no window (`OVER`), only scalar functions koc knows.
/// Such a condition may be evaluated once over every event and its mask sliced; any
/// other is evaluated over the rows it is meant for. Read from the SQL's tokens, so an
/// unknown function counts as not row-wise (the safe side).
pub fn is_row_wise(sql: &str) -> bool {
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
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
    /// Words that may stand before a parenthesis without calling a function.
    const OPERATORS: [&str; 12] = [
        "in", "and", "or", "not", "is", "when", "then", "else", "case", "between", "like", "as",
    ];
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return false;
    };
    let significant: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    significant.iter().enumerate().all(|(i, t)| match t {
        Token::Word(w) => {
            let word = w.value.to_ascii_lowercase();
            let unquoted = w.quote_style.is_none();
            if unquoted && word == "over" {
                return false;
            }
            // polars calls `"max"(x)` MAX too: a quoted name before `(` is a call
            let calls = matches!(significant.get(i + 1), Some(Token::LParen));
            !calls || (unquoted && (SCALAR.contains(&word.as_str()) || OPERATORS.contains(&word.as_str())))
        }
        _ => true,
    })
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
    use super::is_row_wise;

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
}
