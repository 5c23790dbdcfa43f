//! Timestamps and dates as exports write them (SPEC §3): the source's formats,
//! a date alone, or ISO 8601 with an offset converted to the program time zone.
use crate::fmt::{day_of, ts_of, Day, Ts};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

pub const DEFAULT_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"];

pub struct TsParser {
    formats: Vec<String>,
    tz: Tz,
    /// The place of `DEFAULT_FORMATS[0]` among `formats` (parsed without chrono there).
    fast: Option<usize>,
}

impl TsParser {
    pub fn new(formats: Option<&Vec<String>>, tz: Tz) -> Self {
        let formats = match formats {
            Some(f) if !f.is_empty() => f.clone(),
            _ => DEFAULT_FORMATS.iter().map(|s| s.to_string()).collect(),
        };
        let fast = formats.iter().position(|f| f == DEFAULT_FORMATS[0]);
        TsParser { formats, tz, fast }
    }

    /// Local wall time in the program time zone, or None if unparseable or outside
    /// the years 1900–2200.
    pub fn parse(&self, s: &str) -> Option<Ts> {
        let t = crate::ingest::blank::trim(s);
        for (i, f) in self.formats.iter().enumerate() {
            if self.fast == Some(i) {
                // the common shape without chrono's format interpreter (same result),
                // its year bound checked on the year as read
                if let Some((year, ts)) = parse_ymd_hms(t) {
                    return YEARS.contains(&year).then_some(ts);
                }
            }
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                return in_years(dt.date()).then(|| ts_of(dt));
            }
        }
        // (parse_date checks the years itself)
        if let Some(d) = parse_date(t) {
            return Some(day_of(d) as Ts * 86_400);
        }
        // the local time's year, after the offset moved it
        self.parse_iso(t)
            .filter(|ts| YEARS.contains(&crate::fmt::civil_from_days(crate::fmt::day_of_ts(*ts)).0))
    }

    fn parse_iso(&self, t: &str) -> Option<Ts> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Some(ts_of(dt.with_timezone(&self.tz).naive_local()));
        }
        for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%:z"] {
            if let Ok(dt) = DateTime::parse_from_str(t, f) {
                return Some(ts_of(dt.with_timezone(&self.tz).naive_local()));
            }
        }
        for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                return Some(ts_of(dt));
            }
        }
        None
    }
}

/// Exactly `YYYY-MM-DD HH:MM:SS` with a real date and time, as (year, time), else
/// None (the caller then asks chrono, which also knows the rarer spellings and leap
/// seconds).
fn parse_ymd_hms(t: &str) -> Option<(i32, Ts)> {
    let b = t.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter()
            .try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32))
    };
    let (y, m, d) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    let (h, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // the checks chrono's from_ymd_opt and and_hms_opt make, in integer arithmetic
    if !(1..=12).contains(&m) || d == 0 || d > crate::fmt::days_in_month(y, m) || h > 23 || min > 59 || sec > 59 {
        return None;
    }
    Some((
        y,
        crate::fmt::days_from_civil(y, m, d) as Ts * 86_400 + (h * 3600 + min * 60 + sec) as Ts,
    ))
}

/// `YYYY-MM-DD` or `YYYY/M/D`; impossible calendar dates are None.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    let parts: Vec<&str> = t.split(['-', '/']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if parts[0].len() != 4 || parts[1].len() > 2 || parts[2].len() > 2 {
        return None;
    }
    let sep_ok = t.chars().filter(|c| *c == '-').count() == 2 || t.chars().filter(|c| *c == '/').count() == 2;
    if !sep_ok {
        return None;
    }
    NaiveDate::from_ymd_opt(parts[0].parse().ok()?, parts[1].parse().ok()?, parts[2].parse().ok()?)
        .filter(|d| in_years(*d))
}

/// The years koc accepts in any date (SPEC-independent bound, docs/decisions.md): a
/// year 0 or 9999 is a typo, and day loops over it would run for hours.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

pub fn in_years(d: NaiveDate) -> bool {
    use chrono::Datelike;
    YEARS.contains(&d.year())
}

pub fn parse_day(s: &str) -> Option<Day> {
    parse_date(s).map(day_of)
}

/// Today's date in the program time zone.
pub fn today(tz: Tz) -> Day {
    let now = chrono::Utc::now();
    day_of(tz.from_utc_datetime(&now.naive_utc()).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::fmt_ts;

    fn p() -> TsParser {
        TsParser::new(None, chrono_tz::Asia::Shanghai)
    }

    #[test]
    fn formats_iso_and_dates() {
        let p = p();
        assert_eq!(fmt_ts(p.parse("2025-03-01 07:56:15").unwrap()), "2025-03-01 07:56:15");
        assert_eq!(fmt_ts(p.parse("2025/06/01 03:16").unwrap()), "2025-06-01 03:16:00");
        assert_eq!(fmt_ts(p.parse("2025-01-03T14:06:06Z").unwrap()), "2025-01-03 22:06:06");
        assert_eq!(
            fmt_ts(p.parse("2025-03-01T07:53:54+08:00").unwrap()),
            "2025-03-01 07:53:54"
        );
        assert_eq!(fmt_ts(p.parse("2022-02-14").unwrap()), "2022-02-14 00:00:00");
        assert_eq!(p.parse("2025/13/01 10:00"), None);
        assert_eq!(p.parse("2024-02-30 10:00:00"), None);
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for s in [
            "2025-03-01 07:56:15",
            "2024-02-29 23:59:59",
            "2023-02-29 10:00:00",
            "2025-13-01 10:00:00",
            "2025-01-01 24:00:00",
            "2025-01-01 10:60:00",
            "2025-1-01 10:00:00",
            "2025-01-01T10:00:00",
        ] {
            let chrono = NaiveDateTime::parse_from_str(s, DEFAULT_FORMATS[0]).ok().map(ts_of);
            match parse_ymd_hms(s) {
                Some((year, ts)) => {
                    assert_eq!(Some(ts), chrono, "{s}");
                    assert_eq!(year.to_string(), s[..4], "{s}");
                }
                None => assert!(
                    chrono.is_none() || s.len() != 19,
                    "{s}: the fast path gave up on a plain timestamp"
                ),
            }
        }
    }

    #[test]
    fn dates_both_forms() {
        assert_eq!(parse_date("2020/9/25"), NaiveDate::from_ymd_opt(2020, 9, 25));
        assert_eq!(parse_date("1993-01-07"), NaiveDate::from_ymd_opt(1993, 1, 7));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-02"), None);
        assert_eq!(parse_date("0000-01-01"), None);
        assert_eq!(parse_date("2201-01-01"), None);
        assert_eq!(parse_date("1900-01-01"), NaiveDate::from_ymd_opt(1900, 1, 1));
    }

    #[test]
    fn years_outside_1900_2200_are_unparseable() {
        let p = p();
        assert_eq!(p.parse("-0001-01-01 00:00:00"), None);
        assert_eq!(p.parse("9999-12-31 00:00:00"), None);
        assert_eq!(p.parse("1899-12-31T10:00:00Z"), None);
        // the plain shape's bounds, checked on the year as read
        assert_eq!(p.parse("1899-12-31 23:59:59"), None);
        assert_eq!(p.parse("2201-01-01 00:00:00"), None);
        assert!(p.parse("1900-01-01 00:00:00").is_some());
        assert!(p.parse("2200-12-31 23:59:59").is_some());
        // the plain shape after another format, and a format of the pipeline's own
        let later = TsParser::new(
            Some(&vec!["%Y/%m/%d %H:%M".to_string(), "%Y-%m-%d %H:%M:%S".to_string()]),
            chrono_tz::Asia::Shanghai,
        );
        assert_eq!(later.parse("1899-12-31 23:59:59"), None);
        assert_eq!(later.parse("1899/12/31 23:59"), None);
        assert!(later.parse("1900/01/01 00:00").is_some());
        assert!(later.parse("2025-06-01 10:00:00").is_some());
    }
}
