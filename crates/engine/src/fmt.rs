//! Value formatting shared by every output (SPEC §1 output conventions).
use chrono::{Duration, NaiveDate, NaiveDateTime};

/// Days since 1970-01-01: the one date representation used in computations.
pub type Day = i32;
/// Seconds since 1970-01-01 00:00:00 in the program time zone (local wall time).
pub type Ts = i64;

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("epoch"),
};

pub fn day_of(date: NaiveDate) -> Day {
    (date - EPOCH).num_days() as Day
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date, in integer arithmetic
/// (H. Hinnant's `days_from_civil`): ingest converts twenty million timestamps, and
/// chrono's calendar walk was a tenth of it.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 } as i32;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day: the inverse of `days_from_civil`.
pub fn civil_from_days(day: Day) -> (i32, u32, u32) {
    let z = day + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i32, m, d)
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whether `day` is the last day of its month (a layer cadence date, SPEC §7).
pub fn is_month_end(day: Day) -> bool {
    civil_from_days(day + 1).2 == 1
}

pub fn date_of(day: Day) -> NaiveDate {
    EPOCH + Duration::days(day as i64)
}

pub fn ts_of(dt: NaiveDateTime) -> Ts {
    (dt - EPOCH.and_hms_opt(0, 0, 0).expect("midnight")).num_seconds()
}

pub fn day_of_ts(ts: Ts) -> Day {
    ts.div_euclid(86_400) as Day
}

pub fn fmt_day(day: Day) -> String {
    let mut buf = [0u8; 10];
    write_day(&mut buf, day).to_string()
}

pub fn fmt_ts(ts: Ts) -> String {
    let mut buf = [0u8; 19];
    write_ts(&mut buf, ts).to_string()
}

/// `YYYY-MM-DD` into a buffer, without allocating (the ledger writes millions).
/// Years are 1900–2200 (timestamps::YEARS), so four digits always suffice.
pub fn write_day(buf: &mut [u8; 10], day: Day) -> &str {
    let (y, m, d) = civil_from_days(day);
    put(&mut buf[0..4], y.clamp(0, 9999) as u32);
    buf[4] = b'-';
    put(&mut buf[5..7], m);
    buf[7] = b'-';
    put(&mut buf[8..10], d);
    std::str::from_utf8(buf).expect("ASCII digits")
}

/// `YYYY-MM-DD HH:MM:SS` into a buffer, without allocating.
pub fn write_ts(buf: &mut [u8; 19], ts: Ts) -> &str {
    let mut day = [0u8; 10];
    write_day(&mut day, day_of_ts(ts));
    buf[..10].copy_from_slice(&day);
    let secs = ts.rem_euclid(86_400) as u32;
    buf[10] = b' ';
    put(&mut buf[11..13], secs / 3600);
    buf[13] = b':';
    put(&mut buf[14..16], secs % 3600 / 60);
    buf[16] = b':';
    put(&mut buf[17..19], secs % 60);
    std::str::from_utf8(buf).expect("ASCII digits")
}

/// `n` as zero-padded decimal digits filling `out`.
fn put(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Round half away from zero to 6 decimals and drop trailing zeros: `4`, `0.5`, `0.333333`.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let scaled = (x * 1e6).round() / 1e6; // f64::round is half away from zero
    let mut s = format!("{scaled:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

pub fn fmt_opt_num(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_default()
}

/// An integer with thousands separators for people (`1,204,311`); CSVs keep plain digits.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

pub fn fmt_bool(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Two computed values equal to 9 decimal places are ties (SPEC §1).
pub fn tie_key(x: f64) -> i64 {
    (x * 1e9).round() as i64
}

/// The SPEC's percentile among values (§8): ties by 9 decimals.
pub fn percentiles(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return vec![];
    }
    if n == 1 {
        return vec![1.0];
    }
    let mut keys: Vec<i64> = values.iter().map(|v| tie_key(*v)).collect();
    let original = keys.clone();
    keys.sort_unstable();
    original
        .iter()
        .map(|k| {
            let less = keys.partition_point(|x| x < k);
            let le = keys.partition_point(|x| x <= k);
            let equal = le - less;
            (less as f64 + (equal as f64 - 1.0) / 2.0) / (n as f64 - 1.0)
        })
        .collect()
}

/// A text cell of a CSV output as Excel may open it: one starting with = + - @, a tab
/// or CR gets a leading ' (formula injection, SPEC §11); numbers and dates are written
/// without it.
pub fn excel_text(s: &str) -> std::borrow::Cow<'_, str> {
    match s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{s}").into(),
        false => s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_civil_calendar_agrees_with_chrono() {
        use chrono::Datelike;
        // 1600-03-01 … 2400-02-29: leap centuries, both sides of the epoch
        for day in -135_000..157_000 {
            let d = date_of(day);
            assert_eq!(civil_from_days(day), (d.year(), d.month(), d.day()), "day {day}");
            assert_eq!(days_from_civil(d.year(), d.month(), d.day()), day);
            assert!(days_in_month(d.year(), d.month()) >= d.day());
        }
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn numbers_round_half_away_and_trim() {
        assert_eq!(fmt_num(4.0), "4");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333333");
        assert_eq!(fmt_num(2.0 / 3.0), "0.666667");
        assert_eq!(fmt_num(-0.0000001), "0");
        assert_eq!(fmt_num(75.2631578947), "75.263158");
    }

    #[test]
    fn percentile_ties_share_the_middle() {
        // values 1,2,2,3: p(1)=0, p(2)=(1+0.5)/3=0.5, p(3)=1
        let p = percentiles(&[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(p, vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(percentiles(&[7.0]), vec![1.0]);
        // values agreeing to 9 decimals are ties
        let p = percentiles(&[0.1 + 0.2, 0.3]);
        assert_eq!(p, vec![0.5, 0.5]);
    }

    #[test]
    fn days_round_trip() {
        let d = NaiveDate::from_ymd_opt(2025, 7, 19).unwrap();
        assert_eq!(fmt_day(day_of(d)), "2025-07-19");
        assert_eq!(fmt_ts(ts_of(d.and_hms_opt(8, 3, 5).unwrap())), "2025-07-19 08:03:05");
    }
}
