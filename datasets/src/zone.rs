//! A site's time zone, for logs that print local wall-clock times without
//! saying which zone they are in (`sacct` does): the reader turns them into
//! Unix times with it, and records it in the trace's metadata.

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use std::fmt;
use std::str::FromStr;

/// A time zone from the IANA database (`Europe/Stockholm`, `UTC`,
/// `America/Chicago`), daylight-saving time included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteZone(chrono_tz::Tz);

/// A zone name the database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}` (expected an IANA name such as Europe/Stockholm, America/Chicago or UTC)")]
pub struct UnknownZone(pub String);

impl FromStr for SiteZone {
    type Err = UnknownZone;

    fn from_str(s: &str) -> Result<Self, UnknownZone> {
        s.trim().parse::<chrono_tz::Tz>().map(SiteZone).map_err(|_| UnknownZone(s.to_string()))
    }
}

impl fmt::Display for SiteZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl SiteZone {
    /// The Unix time of a local wall-clock time, given as the seconds from
    /// 1970-01-01T00:00:00 on the local clock (what reading the local time
    /// as UTC gives). A time the clock shows twice (when it goes back) is
    /// the earlier instant; a time it skips (when it goes forward) is read
    /// with the offset in force after the skip.
    pub fn unix_of_local(&self, local_s: f64) -> f64 {
        let secs = local_s.floor();
        let Some(naive) = DateTime::from_timestamp(secs as i64, 0).map(|d| d.naive_utc()) else { return local_s };
        let offset_s = match self.0.offset_from_local_datetime(&naive) {
            LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => o.fix().local_minus_utc(),
            LocalResult::None => self.0.offset_from_utc_datetime(&naive).fix().local_minus_utc(),
        };
        local_s - f64::from(offset_s)
    }

    /// The local wall-clock time at Unix time `unix_s`, as seconds from
    /// 1970-01-01T00:00:00 on the local clock (the inverse of
    /// [`SiteZone::unix_of_local`]), daylight-saving time included.
    pub fn local_of_unix(&self, unix_s: f64) -> f64 {
        unix_s + f64::from(self.offset_at(unix_s))
    }

    /// The zone's offset from UTC at Unix time `unix_s`, in seconds.
    pub fn offset_at(&self, unix_s: f64) -> i32 {
        DateTime::from_timestamp(unix_s.floor() as i64, 0)
            .map_or(0, |d| self.0.offset_from_utc_datetime(&d.naive_utc()).fix().local_minus_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_datetime;

    fn unix(local: &str, zone: &str) -> f64 {
        zone.parse::<SiteZone>().unwrap().unix_of_local(parse_datetime(local).unwrap())
    }

    #[test]
    fn local_times_become_unix_times_across_daylight_saving() {
        // Stockholm: UTC+1 in winter, UTC+2 in summer (from 2024-03-31 02:00)
        assert_eq!(unix("2024-01-15T12:00:00", "Europe/Stockholm"), parse_datetime("2024-01-15T11:00:00").unwrap());
        assert_eq!(unix("2024-07-15T12:00:00", "Europe/Stockholm"), parse_datetime("2024-07-15T10:00:00").unwrap());
        // 02:30 does not exist that night: read with the summer offset
        assert_eq!(unix("2024-03-31T02:30:00", "Europe/Stockholm"), parse_datetime("2024-03-31T00:30:00").unwrap());
        // 02:30 on 2024-10-27 happens twice: the earlier, still summer time
        assert_eq!(unix("2024-10-27T02:30:00", "Europe/Stockholm"), parse_datetime("2024-10-27T00:30:00").unwrap());
        assert_eq!(unix("2024-01-15T12:00:00", "UTC"), parse_datetime("2024-01-15T12:00:00").unwrap());
        let chicago: SiteZone = "America/Chicago".parse().unwrap();
        assert_eq!(chicago.offset_at(parse_datetime("2024-01-15T12:00:00").unwrap()), -6 * 3600);
        assert_eq!(chicago.to_string(), "America/Chicago");
        let summer = parse_datetime("2024-07-15T10:00:00").unwrap();
        let stockholm: SiteZone = "Europe/Stockholm".parse().unwrap();
        assert_eq!(stockholm.local_of_unix(summer), parse_datetime("2024-07-15T12:00:00").unwrap());
        assert_eq!(stockholm.unix_of_local(stockholm.local_of_unix(summer)), summer);
    }

    #[test]
    fn an_unknown_zone_is_named_in_the_error() {
        let err = "Mars/Olympus".parse::<SiteZone>().unwrap_err();
        assert!(err.to_string().contains("`Mars/Olympus`") && err.to_string().contains("Europe/Stockholm"), "{err}");
    }
}
