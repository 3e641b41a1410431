//! Timestamps: milliseconds since the Unix epoch, printed and parsed as UTC RFC 3339.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::KeyError;

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, by the system clock (the epoch if the clock is before it).
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0 / 1000
    }

    /// From whole seconds since the epoch.
    pub fn from_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// This time plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01. Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = KeyError;

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]Z` (a space may replace the `T`, the `Z` is
    /// optional: times are UTC), DSE's `YYYY-MM-DD HH:MM:SS:T` (the fraction dropped), or
    /// `@SECONDS` since the epoch.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || KeyError::InvalidTime(s.to_string());
        let t = s.trim();
        if let Some(secs) = t.strip_prefix('@') {
            return secs
                .parse::<u64>()
                .map(Timestamp::from_secs)
                .map_err(|_| bad());
        }
        let t = t.strip_suffix('Z').unwrap_or(t);
        let (date, time) = match t.split_once(['T', ' ']) {
            Some((d, tm)) => (d, Some(tm)),
            None => (t, None),
        };
        let mut dp = date.split('-');
        let (Some(y), Some(mo), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next())
        else {
            return Err(bad());
        };
        let y: i64 = y.parse().map_err(|_| bad())?;
        let mo: u32 = mo.parse().map_err(|_| bad())?;
        let d: u32 = d.parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        let (mut hh, mut mm, mut ss) = (0u64, 0u64, 0u64);
        if let Some(time) = time {
            let mut tp = time.split(':');
            hh = tp.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
            mm = tp.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
            if let Some(s) = tp.next() {
                ss = s.parse().map_err(|_| bad())?;
            }
            // DSE's `dsetool managekmip expirekey` form, `YYYY-MM-DD HH:MM:SS:T`
            // (`2016-04-13 20:05:00:0`): a fraction of a second after a fourth colon, dropped
            // (timestamps here are whole seconds).
            if let Some(frac) = tp.next()
                && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(bad());
            }
            if tp.next().is_some() || hh > 23 || mm > 59 || ss > 60 {
                return Err(bad());
            }
        }
        let days = days_from_civil(y, mo, d);
        if civil_from_days(days) != (y, mo, d) {
            return Err(bad()); // e.g. February 30th
        }
        let days = u64::try_from(days).map_err(|_| bad())?;
        Ok(Timestamp::from_secs(
            days * 86_400 + hh * 3600 + mm * 60 + ss,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_secs(1_798_761_599).to_string(),
            "2026-12-31T23:59:59Z"
        );
    }

    #[test]
    fn parses_what_it_prints() {
        for secs in [0u64, 951_782_400, 1_798_761_599, 4_102_444_800] {
            let t = Timestamp::from_secs(secs);
            assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        }
        assert_eq!(
            "2026-11-28".parse::<Timestamp>().unwrap().to_string(),
            "2026-11-28T00:00:00Z"
        );
        assert_eq!(
            "2026-11-28 10:30".parse::<Timestamp>().unwrap().to_string(),
            "2026-11-28T10:30:00Z"
        );
        assert_eq!("@60".parse::<Timestamp>().unwrap(), Timestamp(60_000));
        // The DSE docs' expirekey example.
        assert_eq!(
            "2016-04-13 20:05:00:0"
                .parse::<Timestamp>()
                .unwrap()
                .to_string(),
            "2016-04-13T20:05:00Z"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "2026-02-30",
            "2026-13-01",
            "26-1-1",
            "2026-01-01T25:00",
            "2026-01-01 10:00:00:",
            "2026-01-01 10:00:00:x",
            "2026-01-01 10:00:00:0:0",
            "soon",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s}");
        }
    }
}
