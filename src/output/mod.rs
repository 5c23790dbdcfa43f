//! Output tables: one in-memory shape written as Excel-safe CSV (SPEC §11), as
//! sheets of report.xlsx, and handed to the report templates.
pub mod actions;
pub mod charts;
pub mod digest;
pub mod explain_summary;
pub mod explain_text;
pub mod history;
pub mod ledger;
pub mod messages;
pub mod report;
pub mod report_growth;
pub mod report_outcomes;
pub mod report_sections;
pub mod robots;
pub mod summary;
pub mod tables;
pub mod templating;
pub mod xlsx;
use anyhow::Result;
use koc_engine::fmt::{fmt_bool, fmt_day, fmt_num, fmt_ts, Day, Ts};
use serde::Serialize;

/// One cell of an output table: its text as the CSV writes it and, for what a
/// spreadsheet should hold as a number, date or boolean, the typed value (report.xlsx
/// writes the value, never a guess from the text).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    text: String,
    value: Value,
}

/// What a cell holds, for the sheets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Text from the data or ids: guarded against formula injection in CSV.
    Text,
    /// A closed-set value or other text koc wrote itself: written as is.
    Plain,
    Int(i64),
    Num(f64),
    /// A share of 1 (0.13 is 13 %).
    Ratio(f64),
    Date(Day),
    Time(Ts),
    Bool(bool),
    /// Nothing (an optional value that is absent).
    Empty,
    /// Text the CSV keeps as data (guarded like `Text`) while the sheets show what a
    /// person reads in its place: the table's `people[i]` (a promotion's tier names,
    /// an anniversary's years in the locale).
    People(u32),
}

impl Cell {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> Value {
        self.value
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

fn cell(text: String, value: Value) -> Cell {
    Cell { text, value }
}

/// Text from the data (ids, nicknames, names): guarded in CSV.
pub fn t(s: impl Into<String>) -> Cell {
    cell(s.into(), Value::Text)
}
/// Text koc wrote itself (a closed-set value, a formatted note): as is.
pub fn p(s: impl Into<String>) -> Cell {
    let text = s.into();
    let value = if text.is_empty() { Value::Empty } else { Value::Plain };
    cell(text, value)
}
pub fn int(x: impl Into<i64>) -> Cell {
    let x = x.into();
    cell(x.to_string(), Value::Int(x))
}
/// A count (usize in the stages).
pub fn count(n: usize) -> Cell {
    int(n as i64)
}
pub fn num(x: f64) -> Cell {
    cell(fmt_num(x), Value::Num(x))
}
pub fn opt_num(x: Option<f64>) -> Cell {
    x.map(num).unwrap_or_else(empty)
}
pub fn ratio(x: f64) -> Cell {
    cell(fmt_num(x), Value::Ratio(x))
}
pub fn opt_ratio(x: Option<f64>) -> Cell {
    x.map(ratio).unwrap_or_else(empty)
}
pub fn date(d: Day) -> Cell {
    cell(fmt_day(d), Value::Date(d))
}
pub fn opt_date(d: Option<Day>) -> Cell {
    d.map(date).unwrap_or_else(empty)
}
pub fn time(ts: Ts) -> Cell {
    cell(fmt_ts(ts), Value::Time(ts))
}
pub fn boolean(b: bool) -> Cell {
    cell(fmt_bool(b).to_string(), Value::Bool(b))
}
pub fn empty() -> Cell {
    cell(String::new(), Value::Empty)
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// What people read in place of the cells of `Value::People(i)`.
    #[serde(skip)]
    pub people: Vec<String>,
}

impl Table {
    /// Mask the cells of nickname columns (privacy.mask_nicknames, for shared files).
    pub fn mask_nicknames(&mut self) {
        let cols: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.columns[*i] == "nickname" || self.columns[*i].ends_with("_nickname"))
            .collect();
        for row in &mut self.rows {
            for &c in &cols {
                row[c] = t(koc_engine::ingest::privacy::mask(row[c].as_str()));
            }
        }
    }

    pub fn new(name: &str, columns: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
            people: vec![],
        }
    }

    pub fn with_columns(name: &str, columns: Vec<String>) -> Table {
        Table {
            name: name.into(),
            columns,
            rows: vec![],
            people: vec![],
        }
    }

    /// A cell whose CSV text is `data` and whose sheet cell reads `shown`.
    pub fn for_people(&mut self, data: impl Into<String>, shown: String) -> Cell {
        self.people.push(shown);
        cell(data.into(), Value::People(self.people.len() as u32 - 1))
    }

    /// What the sheets show for `cell`: the people's text of a `Value::People` cell.
    pub fn people_text(&self, cell: &Cell) -> Option<&str> {
        match cell.value {
            Value::People(i) => self.people.get(i as usize).map(String::as_str),
            _ => None,
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
        let mut w = self.csv_writer(vec![0xEF, 0xBB, 0xBF])?;
        self.write_csv_rows(&mut w)?;
        Ok(w.into_inner()?)
    }

    /// A CSV writer into `out` (after a BOM the caller wrote), the header written.
    pub fn csv_writer<W: std::io::Write>(&self, out: W) -> Result<csv::Writer<W>> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(&self.columns)?;
        Ok(w)
    }

    /// The rows as CSV records into `w` (a table written in pieces: each piece's rows).
    pub fn write_csv_rows<W: std::io::Write>(&self, w: &mut csv::Writer<W>) -> Result<()> {
        for row in &self.rows {
            for c in row {
                match c.value {
                    Value::Text | Value::People(_) => w.write_field(koc_engine::fmt::excel_text(&c.text).as_bytes())?,
                    _ => w.write_field(&c.text)?,
                }
            }
            w.write_record(None::<&[u8]>)?;
        }
        Ok(())
    }

    /// The rows of `piece`, the next piece of this table, after this one's (a `People`
    /// cell points at this table's people after the ones kept).
    pub fn append(&mut self, piece: Table) {
        let shift = self.people.len() as u32;
        self.people.extend(piece.people);
        for mut row in piece.rows {
            for c in row.iter_mut() {
                if let Value::People(i) = c.value {
                    c.value = Value::People(i + shift);
                }
            }
            self.rows.push(row);
        }
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

    #[test]
    fn a_cell_for_people_keeps_the_data_in_the_csv_and_the_words_for_the_sheet() {
        let mut tb = Table::new("care_calendar", &["detail"]);
        let promoted = tb.for_people("silver -> gold", "白银 → 黄金".into());
        let formula = tb.for_people("=cmd", "=cmd".into());
        tb.push(vec![promoted]);
        tb.push(vec![formula]);
        let csv = String::from_utf8(tb.to_csv().unwrap()[3..].to_vec()).unwrap();
        assert_eq!(
            csv, "detail\nsilver -> gold\n'=cmd\n",
            "the CSV keeps ids, guarded as data"
        );
        assert_eq!(tb.people_text(&tb.rows[0][0]), Some("白银 → 黄金"));
        assert_eq!(tb.people_text(&t("x")), None);
    }

    /// A table written in pieces (its header once, each piece's rows after the last)
    /// is the CSV of the whole; pieces put together point their people's cells at
    /// their own words.
    #[test]
    fn a_table_in_pieces_is_the_table_whole() {
        let piece = |rows: &[(&str, &str)]| {
            let mut tb = Table::new("x", &["a", "b"]);
            for (data, shown) in rows {
                let c = tb.for_people(*data, shown.to_string());
                tb.push(vec![t("=id"), c]);
            }
            tb
        };
        let (first, second) = (piece(&[("1", "一")]), piece(&[("2", "二"), ("3", "三")]));
        let mut w = first.csv_writer(vec![0xEF, 0xBB, 0xBF]).unwrap();
        first.write_csv_rows(&mut w).unwrap();
        second.write_csv_rows(&mut w).unwrap();
        let in_pieces = w.into_inner().unwrap();
        let mut whole = first.clone();
        whole.append(second);
        assert_eq!(in_pieces, whole.to_csv().unwrap());
        assert_eq!(
            String::from_utf8(in_pieces[3..].to_vec()).unwrap(),
            "a,b\n'=id,1\n'=id,2\n'=id,3\n"
        );
        let shown: Vec<_> = whole.rows.iter().map(|r| whole.people_text(&r[1])).collect();
        assert_eq!(shown, [Some("一"), Some("二"), Some("三")]);
    }
}
