//! `report.xlsx` for analysts who live in Excel: a summary sheet first (the headline
//! figures and the action list), then one sheet per output table with a frozen bold
//! header, an autofilter, column widths, real numbers, dates and booleans, and —
//! in a zh-CN program — Chinese headers and sheet names.
use crate::output::{empty, int, num, p, Cell, Table, Value};
use anyhow::Result;
use chrono::{Datelike, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};
use std::path::Path;

const COLUMNS_ZH: &str = include_str!("../../templates/columns.zh-CN.json");

/// Header and sheet names for the program's locale (ids where no name is known).
struct Names {
    map: Option<serde_json::Value>,
}

impl Names {
    fn new(zh: bool) -> Names {
        Names {
            map: zh.then(|| serde_json::from_str(COLUMNS_ZH).unwrap_or_default()),
        }
    }
    fn column(&self, c: &str) -> String {
        self.map
            .as_ref()
            .and_then(|m| m["columns"][c].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| c.to_string())
    }
    fn table(&self, t: &str) -> String {
        let Some(m) = &self.map else { return t.to_string() };
        let tables = &m["tables"];
        if let Some(n) = tables[t].as_str() {
            return n.to_string();
        }
        // contest_<id>[_rejects|_judges]
        if let Some(rest) = t.strip_prefix("contest_") {
            for suffix in ["_rejects", "_judges"] {
                if let Some(id) = rest.strip_suffix(suffix) {
                    return format!(
                        "{}{id}{}",
                        tables["contest_"].as_str().unwrap_or(""),
                        tables[suffix].as_str().unwrap_or(suffix)
                    );
                }
            }
            return format!("{}{rest}", tables["contest_"].as_str().unwrap_or(""));
        }
        t.to_string()
    }
}

/// `created` (the as-of date) is the file's creation time, so the same run gives the
/// same bytes. `summary` holds (label, value) rows for the first sheet.
/// What a person reads in place of an id in a sheet: `(table, column, value)` → the
/// display name or label (None: the value as it is).
pub type Shown<'a> = &'a dyn Fn(&str, &str, &str) -> Option<String>;

/// The column `Shown` is asked with for a header (a metric or criterion id).
pub const HEADER: &str = "";

/// The workbook as it is written: the summary sheet first, then one sheet per table
/// as each is added (a run builds a table, writes it and drops it before the next, so
/// the sheets' rows go to temporary files and no more than one table is held).
pub struct Book<'a> {
    wb: Workbook,
    names: Names,
    header: Format,
    formats: Formats,
    used: Vec<String>,
    shown: Shown<'a>,
    /// Rows written into the last sheet begun (below its header).
    rows_written: u32,
}

/// Rows a sheet holds below its header (Excel's 1,048,576 less one).
const SHEET_ROWS: u32 = 1_048_575;

impl<'a> Book<'a> {
    /// A workbook whose summary sheet holds `summary`'s (label, value) rows and the
    /// action list under them. The sheets' rows wait in temporary files in `tempdir`
    /// (the run's own folder, on the disk the outputs go to).
    pub fn new(
        tempdir: &Path,
        created: chrono::NaiveDate,
        summary: &[(String, Cell)],
        actions: &Table,
        zh: bool,
        shown: Shown<'a>,
    ) -> Result<Book<'a>> {
        let mut wb = Workbook::new();
        wb.set_tempdir(tempdir)?;
        let when = ExcelDateTime::from_ymd(created.year() as u16, created.month() as u8, created.day() as u8)?;
        wb.set_properties(&DocProperties::new().set_creation_datetime(&when));
        let mut book = Book {
            wb,
            names: Names::new(zh),
            header: Format::new().set_bold().set_background_color("#E8EEF7"),
            formats: Formats::new(),
            used: Vec::new(),
            shown,
            rows_written: 0,
        };
        guarded(|| book.summary_sheet(summary, actions))?;
        Ok(book)
    }

    fn summary_sheet(&mut self, summary: &[(String, Cell)], actions: &Table) -> Result<()> {
        let Book {
            wb,
            names,
            header,
            formats,
            used,
            shown,
            ..
        } = self;
        let (header, formats, shown) = (&*header, &*formats, *shown);
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&names.table("summary"), used))?;
        for (c, width) in [34, 24, 16, 12, 60, 8].into_iter().enumerate() {
            ws.set_column_width(c as u16, width)?;
        }
        for (r, (label, value)) in summary.iter().enumerate() {
            let bold = value.as_str().is_empty();
            if bold {
                ws.write_string_with_format(r as u32, 0, label, header)?;
            } else {
                ws.write_string(r as u32, 0, label)?;
                write_cell(ws, r as u32, 1, value, formats)?;
            }
        }
        // the action list as a table under the figures, with a filter (one per sheet)
        let top = summary.len() as u32;
        for (c, h) in actions.columns.iter().enumerate() {
            ws.write_string_with_format(top, c as u16, names.column(h), header)?;
        }
        for (r, row) in actions.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let at = top + 1 + r as u32;
                match shown(&actions.name, &actions.columns[c], cell.as_str()) {
                    Some(name) => write_cell(ws, at, c as u16, &crate::output::t(name), formats)?,
                    None => write_cell(ws, at, c as u16, cell, formats)?,
                }
            }
        }
        if !actions.columns.is_empty() {
            ws.autofilter(
                top,
                0,
                top + actions.rows.len() as u32,
                actions.columns.len() as u16 - 1,
            )?;
        }
        Ok(())
    }

    /// A new sheet for table `t`, after the sheets begun before it: its name, column widths (from `t`'s first 500 rows)
    /// and header. Its rows follow, `rows` a piece at a time, then `end`.
    pub fn begin(&mut self, t: &Table) -> Result<()> {
        self.rows_written = 0;
        guarded(|| self.sheet(t))
    }

    /// The rows of `t` (the sheet's table, or its next piece) after those written; a
    /// sheet holds at most 1,048,576 rows, the CSV has them all.
    pub fn rows(&mut self, t: &Table) -> Result<()> {
        guarded(|| self.sheet_rows(t))
    }

    /// The sheet's frozen header and filter over the rows written.
    pub fn end(&mut self, t: &Table) -> Result<()> {
        let rows = self.rows_written;
        guarded(|| {
            let ws = self
                .wb
                .worksheets_mut()
                .last_mut()
                .ok_or_else(|| anyhow::anyhow!("no sheet begun"))?;
            ws.set_freeze_panes(1, 0)?;
            if !t.columns.is_empty() {
                ws.autofilter(0, 0, rows, t.columns.len() as u16 - 1)?;
            }
            Ok(())
        })
    }

    fn sheet_rows(&mut self, t: &Table) -> Result<()> {
        let start = self.rows_written;
        let Book { wb, formats, shown, .. } = self;
        let (formats, shown) = (&*formats, *shown);
        let ws = wb
            .worksheets_mut()
            .last_mut()
            .ok_or_else(|| anyhow::anyhow!("no sheet begun"))?;
        let room = (SHEET_ROWS - start) as usize;
        for (r, row) in t.rows.iter().take(room).enumerate() {
            let at = start + 1 + r as u32;
            for (c, cell) in row.iter().enumerate() {
                if let Some(text) = t.people_text(cell) {
                    write_cell(ws, at, c as u16, &crate::output::t(text), formats)?;
                    continue;
                }
                match shown(&t.name, &t.columns[c], cell.as_str()) {
                    Some(name) => write_cell(ws, at, c as u16, &crate::output::t(name), formats)?,
                    None => write_cell(ws, at, c as u16, cell, formats)?,
                }
            }
        }
        self.rows_written = start + t.rows.len().min(room) as u32;
        Ok(())
    }

    fn sheet(&mut self, t: &Table) -> Result<()> {
        let Book {
            wb,
            names,
            header,
            used,
            shown,
            ..
        } = self;
        let (header, shown) = (&*header, *shown);
        // rows go to a temporary file as they are written (constant memory): widths
        // are set first, rows strictly in order, panes and the filter at the end
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(sheet_name(&names.table(&t.name), used))?;
        for (c, h) in t.columns.iter().enumerate() {
            let widest = t
                .rows
                .iter()
                .take(500)
                .map(|r| display_width(r[c].as_str()))
                .chain(std::iter::once(display_width(&names.column(h)) + 3))
                .max()
                .unwrap_or(8);
            ws.set_column_width(c as u16, (widest.clamp(6, 50) + 1) as f64)?;
        }
        for (c, h) in t.columns.iter().enumerate() {
            // a feature or criterion column is named by report.names when the map lacks it
            let name = match names.column(h) {
                same if same == *h => shown(&t.name, HEADER, h).unwrap_or(same),
                name => name,
            };
            ws.write_string_with_format(0, c as u16, name, header)?;
        }
        Ok(())
    }

    pub fn save(mut self, path: &Path) -> Result<()> {
        // the zip writer's own message is "i/o error": its cause (a full disk) is in the
        // error's details
        guarded(|| {
            self.wb
                .save(path)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e:?} (is the disk full?)", path.display()))
        })
    }
}

/// rust_xlsxwriter panics when a sheet's temporary file cannot be written (a full
/// disk): that becomes an error naming the workbook, and the run stops cleanly.
fn guarded<T>(write: impl FnOnce() -> Result<T>) -> Result<T> {
    koc_engine::caught::caught(write).unwrap_or_else(|payload| {
        // the panic's own words, so a bug of koc's is not taken for a full disk
        let why = koc_engine::caught::message(payload.as_ref());
        Err(anyhow::anyhow!(
            "cannot write report.xlsx: {why} (a sheet's temporary file could not be written: is the disk full?)"
        ))
    })
}

/// The names people read in the sheets: tiers, layers, specialties and roles by their
/// display names, closed sets (moves, statuses, recommendations, stages…) by the
/// locale's labels. The CSVs keep the ids.
pub fn display_names(
    p: &koc_engine::pipeline::config::Pipeline,
    en: bool,
) -> impl Fn(&str, &str, &str) -> Option<String> + '_ {
    let labels = crate::output::report::report_labels(en);
    move |table: &str, column: &str, value: &str| {
        if value.is_empty() {
            return None;
        }
        let label = |group: &str| labels[group][value].as_str().map(str::to_string);
        // a member new since the previous snapshot (CSV: `(new)`)
        if value == "(new)" {
            return labels["moved"]["new"].as_str().map(str::to_string);
        }
        match column {
            HEADER => p.report.as_ref().and_then(|r| r.names.get(value)).cloned(),
            "tier" | "next_tier" | "previous_tier" | "from_tier" | "to_tier" | "layer" | "previous_layer"
            | "from_layer" | "to_layer" | "specialty" | "newcomer_specialty" | "mentor_specialty" | "role" => {
                Some(p.display_name(value))
            }
            "moved" => label("moved"),
            "action" => label("action"),
            "change" => label("tier_change"),
            "recommendation" => label("recommendation"),
            "stage" => label("stage"),
            "category" => label("fame_category"),
            "grade" => label("grade"),
            "occasion" => label("occasion"),
            "reason" if table.ends_with("_rejects") => label("score_reason"),
            "status" if table == "redemptions" => label("redemption_status"),
            "status" if table == "goals" => label("status"),
            _ => None,
        }
    }
}

/// One cell as Excel should hold it, from its typed value: a number with separators
/// (two decimals for fractions; the CSV keeps all six), a percentage, a date or
/// date-time, a boolean, or text.
fn write_cell(ws: &mut Worksheet, r: u32, c: u16, cell: &Cell, f: &Formats) -> Result<()> {
    match cell.value() {
        Value::Text | Value::Plain | Value::People(_) => {
            ws.write_string(r, c, excel_text(cell.as_str()).as_ref())?;
        }
        Value::Empty => {}
        Value::Int(x) => {
            ws.write_number_with_format(r, c, x as f64, &f.int)?;
        }
        Value::Num(x) if x.is_finite() => {
            let shown = if x.fract() == 0.0 { &f.int } else { &f.num };
            ws.write_number_with_format(r, c, x, shown)?;
        }
        Value::Ratio(x) if x.is_finite() => {
            ws.write_number_with_format(r, c, x, &f.percent)?;
        }
        Value::Num(_) | Value::Ratio(_) => {}
        Value::Date(d) => {
            let d = koc_engine::fmt::date_of(d);
            ws.write_datetime_with_format(
                r,
                c,
                &ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?,
                &f.date,
            )?;
        }
        Value::Time(ts) => {
            let t = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().naive_utc();
            let when = ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)?.and_hms(
                t.hour() as u16,
                t.minute() as u8,
                t.second() as f64,
            )?;
            ws.write_datetime_with_format(r, c, &when, &f.time)?;
        }
        Value::Bool(b) => {
            ws.write_boolean(r, c, b)?;
        }
    }
    Ok(())
}

/// The number formats of the sheets.
struct Formats {
    int: Format,
    num: Format,
    percent: Format,
    date: Format,
    time: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            int: Format::new().set_num_format("#,##0"),
            num: Format::new().set_num_format("#,##0.00"),
            percent: Format::new().set_num_format("0.0%"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }
}

/// Characters as Excel columns count them (a CJK character is about two).
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) > 0x2E80 { 2 } else { 1 }).sum()
}

/// Excel's limit of characters in one cell.
const EXCEL_CELL_CHARS: usize = 32_767;
const CUT_MARK: &str = "…[cut: longer than Excel allows; see the CSV]";

/// Text as a cell can hold it: a value over Excel's limit is cut and marked (the CSV
/// keeps it whole), so one long nickname cannot fail every later run.
fn excel_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= EXCEL_CELL_CHARS {
        return s.into();
    }
    let keep = EXCEL_CELL_CHARS - CUT_MARK.chars().count();
    let mut cut: String = s.chars().take(keep).collect();
    cut.push_str(CUT_MARK);
    cut.into()
}

/// A valid, unique sheet name: at most 31 characters, none of `[ ] : * ? / \`; a
/// repeated name gets ` (2)`, ` (3)`….
fn sheet_name(table: &str, used: &mut Vec<String>) -> String {
    let clean: String = table
        .chars()
        .map(|c| if "[]:*?/\\\\".contains(c) { '_' } else { c })
        .collect();
    let mut name: String = clean.chars().take(31).collect();
    let mut n = 2;
    while used.iter().any(|u| u.to_lowercase() == name.to_lowercase()) {
        let suffix = format!(" ({n})");
        name = clean.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        n += 1;
    }
    used.push(name.clone());
    name
}

/// The summary sheet's rows from the report context: the headline figures, then the
/// title of the action list's table (a row with an empty value is a heading).
pub fn summary(ctx: &serde_json::Value) -> Vec<(String, Cell)> {
    use serde_json::Value;
    let t = &ctx["t"];
    let label = |k: &str| t[k].as_str().unwrap_or(k).to_string();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    // a headline figure as the number it is (JSON keeps integers apart from fractions)
    let figure = |v: &Value| match v {
        Value::Number(n) => n
            .as_i64()
            .map(int)
            .or_else(|| n.as_f64().map(num))
            .unwrap_or_else(empty),
        other => p(text(other)),
    };
    let as_of = chrono::NaiveDate::parse_from_str(&text(&ctx["as_of"]), "%Y-%m-%d")
        .map(|d| crate::output::date(koc_engine::fmt::day_of(d)))
        .unwrap_or_else(|_| p(text(&ctx["as_of"])));
    let mut rows = vec![
        (text(&ctx["program"]["name"]), empty()),
        (label("as_of"), as_of),
        (label("headline"), empty()),
    ];
    for k in [
        "members",
        "active_30d",
        "points_issued",
        "points_redeemed",
        "points_expired",
        "liability",
        "flagged_newcomers",
    ] {
        let v = if ctx["headline"][k].is_null() {
            &ctx["points"][k]
        } else {
            &ctx["headline"][k]
        };
        rows.push((label(k), figure(v)));
    }
    rows.push((
        label("goals_on_track"),
        p(format!(
            "{} / {}",
            text(&ctx["headline"]["goals_on_track"]),
            text(&ctx["headline"]["goals"])
        )),
    ));
    // the action list follows as a filterable table (`actions`), under this title
    rows.push((label("actions_table"), empty()));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_odd_table_names_make_distinct_sheets() {
        let mut used = Vec::new();
        let a = sheet_name("contest_spring-photo-contest-2025_rejects", &mut used);
        let b = sheet_name("contest_spring-photo-contest-2025_judges", &mut used);
        assert_eq!(a.chars().count(), 31);
        assert_ne!(a, b);
        assert_eq!(sheet_name("contest_a/b", &mut used), "contest_a_b");
        assert_eq!(sheet_name("contest_a/b", &mut used), "contest_a_b (2)");
    }

    #[test]
    fn text_over_excels_limit_is_cut_and_marked() {
        let long = "长".repeat(40_000);
        let cut = excel_text(&long);
        assert_eq!(cut.chars().count(), EXCEL_CELL_CHARS);
        assert!(cut.ends_with(CUT_MARK));
        assert_eq!(excel_text("short"), "short");
    }

    #[test]
    fn chinese_names_for_sheets_and_headers() {
        let n = Names::new(true);
        assert_eq!(n.table("balances"), "积分余额");
        assert_eq!(n.table("contest_photo-2025_judges"), "竞赛 photo-2025 评委");
        assert_eq!(n.column("member_id"), "用户ID");
        assert_eq!(n.column("creativity"), "creativity");
        assert_eq!(Names::new(false).table("balances"), "balances");
    }
}
