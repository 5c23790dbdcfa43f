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
    for t in tables {
        let ws = wb.add_worksheet();
        // sheet names: at most 31 characters, unique
        let name: String = t.name.chars().take(31).collect();
        ws.set_name(&name)?;
        for (c, h) in t.columns.iter().enumerate() {
            ws.write_string(0, c as u16, h)?;
        }
        // a sheet holds at most 1,048,576 rows; the CSV has them all
        for (r, row) in t.rows.iter().take(1_048_575).enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (rr, cc) = (r as u32 + 1, c as u16);
                match cell {
                    Cell::Plain(s) => match s.parse::<f64>() {
                        Ok(x) if !s.is_empty() => ws.write_number(rr, cc, x)?,
                        _ => ws.write_string(rr, cc, s)?,
                    },
                    Cell::Text(s) => ws.write_string(rr, cc, s)?,
                };
            }
        }
    }
    wb.save(path)?;
    Ok(())
}
