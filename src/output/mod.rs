//! Output tables: one in-memory shape written as Excel-safe CSV (SPEC §11), as
//! sheets of report.xlsx, and handed to the report templates.
pub mod actions;
pub mod charts;
pub mod digest;
pub mod explain_text;
pub mod ledger;
pub mod messages;
pub mod report;
pub mod report_growth;
pub mod report_outcomes;
pub mod report_sections;
pub mod robots;
pub mod summary;
pub mod templating;
pub mod xlsx;
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// Text from the data or ids: guarded against formula injection in CSV.
    Text(String),
    /// A number, date or boolean already formatted: written as is.
    Plain(String),
}

impl Cell {
    pub fn as_str(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Plain(s) => s,
        }
    }
}

pub fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}
pub fn p(s: impl Into<String>) -> Cell {
    Cell::Plain(s.into())
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Mask the cells of nickname columns (privacy.mask_nicknames, for shared files).
    pub fn mask_nicknames(&mut self) {
        let cols: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.columns[*i] == "nickname" || self.columns[*i].ends_with("_nickname"))
            .collect();
        for row in &mut self.rows {
            for &c in &cols {
                row[c] = Cell::Text(crate::ingest::privacy::mask(row[c].as_str()));
            }
        }
    }

    pub fn new(name: &str, columns: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
        }
    }

    pub fn with_columns(name: &str, columns: Vec<String>) -> Table {
        Table {
            name: name.into(),
            columns,
            rows: vec![],
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "{}", self.name);
        self.rows.push(row);
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// UTF-8 with BOM; text cells starting with = + - @, tab or CR get a leading '.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        w.write_record(&self.columns)?;
        for row in &self.rows {
            for c in row {
                match c {
                    Cell::Text(s) => w.write_field(crate::fmt::excel_text(s).as_bytes())?,
                    Cell::Plain(s) => w.write_field(s)?,
                }
            }
            w.write_record(None::<&[u8]>)?;
        }
        Ok(w.into_inner()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_bom_and_guards_formulas_in_text_only() {
        let mut tb = Table::new("x", &["a", "b"]);
        tb.push(vec![t("=1+2"), p("-3")]);
        tb.push(vec![t("@SUM(A1)"), p("4")]);
        let out = tb.to_csv().unwrap();
        assert_eq!(&out[..3], &[0xEF, 0xBB, 0xBF]);
        assert_eq!(
            String::from_utf8(out[3..].to_vec()).unwrap(),
            "a,b\n'=1+2,-3\n'@SUM(A1),4\n"
        );
    }
}
