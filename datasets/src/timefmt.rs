//! Dates and durations as schedulers print them: `2024-03-01T12:00:00`,
//! Slurm durations `[D-]HH:MM:SS`, `MM:SS`, `MM`, `D-HH`, `D-HH:MM`.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS` (or with a space) as seconds since the Unix
/// epoch, reading the time as UTC. `None` when it is not such a date.
pub fn parse_datetime(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse::<u32>().ok().map(i64::from) };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se) as f64)
}

/// Parses a date as the Unix `date` command prints it, `Mon Sep 23
/// 14:00:31 CEST 1996` (the zone abbreviation may be absent), as seconds
/// from 1970-01-01T00:00:00 on the clock that printed it: the abbreviation
/// and the weekday are not read, so the caller places the wall-clock time
/// in its zone. `None` when it is not such a date.
pub fn parse_date_command(s: &str) -> Option<f64> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t: Vec<&str> = s.split_whitespace().collect();
    let (month, day, time, year) = match t.as_slice() {
        [_, m, d, hms, _, y] | [_, m, d, hms, y] => (*m, *d, *hms, *y),
        _ => return None,
    };
    let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let d = i64::from(day.parse::<u8>().ok().filter(|d| (1..=31).contains(d))?);
    let y = i64::from(year.parse::<u16>().ok()?);
    let hms: Vec<i64> = time.split(':').map(|p| p.parse::<u8>().ok().map(i64::from)).collect::<Option<_>>()?;
    let [h, mi, se] = hms[..] else { return None };
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se) as f64)
}

/// Parses a Slurm duration into seconds: `minutes`, `minutes:seconds`,
/// `hours:minutes:seconds`, `days-hours`, `days-hours:minutes`,
/// `days-hours:minutes:seconds`. `None` when it is not one.
pub fn parse_slurm_duration(s: &str) -> Option<f64> {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(d.parse::<u64>().ok()?), r),
        None => (None, s),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse::<u64>().ok()).collect::<Option<_>>()?;
    let secs = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86_400 + h * 3600,
        (Some(d), [h, m]) => d * 86_400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86_400 + h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(secs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_the_date_command_prints_them_are_wall_clock_seconds() {
        // The StartTime of the KTH-SP2 log's header.
        assert_eq!(parse_date_command("Mon Sep 23 14:00:31 CEST 1996"), parse_datetime("1996-09-23T14:00:31"));
        assert_eq!(parse_date_command("Fri Aug 29 10:55:01 1997"), parse_datetime("1997-08-29T10:55:01"));
        assert_eq!(parse_date_command("Mon Sep 32 14:00:31 CEST 1996"), None);
        assert_eq!(parse_date_command("Mon Foo 23 14:00:31 CEST 1996"), None);
        assert_eq!(parse_date_command("yesterday"), None);
    }

    #[test]
    fn datetimes_are_unix_seconds() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00"), Some(0.0));
        assert_eq!(parse_datetime("2024-03-01T12:30:05"), Some(1_709_296_205.0));
        assert_eq!(parse_datetime("2000-02-29 23:59:59"), Some(951_868_799.0));
        assert_eq!(parse_datetime("Unknown"), None);
        assert_eq!(parse_datetime("2024-13-01T00:00:00"), None);
        assert_eq!(parse_datetime("2024-03-01T1a:00:00"), None);
    }

    #[test]
    fn slurm_durations_in_every_form() {
        assert_eq!(parse_slurm_duration("1-02:03:04"), Some(93_784.0));
        assert_eq!(parse_slurm_duration("02:03:04"), Some(7384.0));
        assert_eq!(parse_slurm_duration("03:04"), Some(184.0));
        assert_eq!(parse_slurm_duration("30"), Some(1800.0));
        assert_eq!(parse_slurm_duration("2-12"), Some(216_000.0));
        assert_eq!(parse_slurm_duration("2-12:30"), Some(217_800.0));
        assert_eq!(parse_slurm_duration("UNLIMITED"), None);
        assert_eq!(parse_slurm_duration("1:2:3:4"), None);
        assert_eq!(parse_slurm_duration(""), None);
    }
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn format_utc(unix_s: f64) -> String {
    let secs = unix_s.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn formats_back_what_it_parses() {
        for s in ["1970-01-01 00:00:00", "1996-09-23 12:00:31", "2000-02-29 23:59:59", "2026-11-23 21:00:00"] {
            assert_eq!(format_utc(parse_datetime(s).unwrap()), s);
        }
    }
}
