//! `report.xlsx`: one sheet per output table, for analysts who live in Excel.
use crate::output::{Cell, Table};
use anyhow::Result;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
use std::path::Path;

/// `created` (the as-of date) is the file's creation time, so the same run gives the same bytes.
pub fn write(path: &Path, tables: &[Table], created: chrono::NaiveDate) -> Result<()> {
    use chrono::Datelike;
    let mut wb = Workbook::new();
    let when = ExcelDateTime::from_ymd(created.year() as u16, created.month() as u8, created.day() as u8)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&when));
    let mut used: Vec<String> = Vec::new();
    for t in tables {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&t.name, &mut used))?;
        for (c, h) in t.columns.iter().enumerate() {
            ws.write_string(0, c as u16, h)?;
        }
        // a sheet holds at most 1,048,576 rows; the CSV has them all
        for (r, row) in t.rows.iter().take(1_048_575).enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (rr, cc) = (r as u32 + 1, c as u16);
                match cell {
                    Cell::Plain(s) => match s.parse::<f64>() {
                        Ok(x) if !s.is_empty() && x.is_finite() => ws.write_number(rr, cc, x)?,
                        _ => ws.write_string(rr, cc, excel_text(s).as_ref())?,
                    },
                    Cell::Text(s) => ws.write_string(rr, cc, excel_text(s).as_ref())?,
                };
            }
        }
    }
    wb.save(path)?;
    Ok(())
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

/// A valid, unique sheet name: at most 31 characters, none of `[ ] : * ? / \`.
fn sheet_name(table: &str, used: &mut Vec<String>) -> String {
    let clean: String = table
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let mut name: String = clean.chars().take(31).collect();
    let mut n = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
        let suffix = format!("~{n}");
        name = clean.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        n += 1;
    }
    used.push(name.clone());
    name
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
    }

    #[test]
    fn text_over_excels_limit_is_cut_and_marked() {
        let long = "长".repeat(40_000);
        let cut = excel_text(&long);
        assert_eq!(cut.chars().count(), EXCEL_CELL_CHARS);
        assert!(cut.ends_with(CUT_MARK));
        assert_eq!(excel_text("short"), "short");
    }
}
