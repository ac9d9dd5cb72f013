//! Message times and days. The server renders them in UTC (it cannot know the reader's zone);
//! once hydrated, the browser shows local time. Both render the same text during hydration.
//!
//! Formatting is pure: a time is first shifted into the zone it is shown in ([`shifted`]), then
//! read as if it were UTC.

const DAY_MS: i64 = 86_400_000;
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `ts_ms` moved into the zone times are shown in: the browser's once `local` (after
/// hydration), UTC before and on the server.
pub(crate) fn shifted(ts_ms: i64, local: bool) -> i64 {
    #[cfg(feature = "hydrate")]
    if local {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts_ms as f64));
        // Minutes from local time to UTC, so local = UTC - offset.
        return ts_ms - (d.get_timezone_offset() * 60_000.0) as i64;
    }
    let _ = local;
    ts_ms
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The day of a shifted time, counted from 1970-01-01.
pub(crate) fn day(shifted_ms: i64) -> i64 {
    shifted_ms.div_euclid(DAY_MS)
}

/// What a day separator says: "Today", "Yesterday", the weekday for the rest of the past
/// week, and the full date further back (or for a day after `today`, from a skewed clock).
pub(crate) fn day_label(day: i64, today: i64) -> String {
    match today - day {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        2..=6 => weekday(day).to_owned(),
        _ => full_date(day),
    }
}

/// "Wednesday, 2 December 2026".
pub(crate) fn full_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{}, {d} {} {y}", weekday(day), MONTHS[m as usize - 1])
}

/// A message's tooltip: its full date and time, in the zone shown ("UTC" until it is local).
pub(crate) fn tooltip(shifted_ms: i64, local: bool) -> String {
    let zone = if local { "" } else { " UTC" };
    format!(
        "{} at {}{zone}",
        full_date(day(shifted_ms)),
        utc_hm(shifted_ms)
    )
}

fn weekday(day: i64) -> &'static str {
    // 1970-01-01 was a Thursday.
    WEEKDAYS[(day + 3).rem_euclid(7) as usize]
}

/// `HH:MM` in UTC (of a shifted time: in its zone).
pub(crate) fn utc_hm(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let day_secs = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", day_secs / 3600, day_secs % 3600 / 60)
}

/// `HH:MM` in the browser's time zone.
#[cfg(feature = "hydrate")]
pub(crate) fn local_hm(ts_ms: i64) -> String {
    utc_hm(shifted(ts_ms, true))
}

/// RFC 3339 in UTC, for `<time datetime>`.
pub(crate) fn utc_iso(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(utc_iso(0), "1970-01-01T00:00:00Z");
        // 2024-02-29T13:05:09Z, a leap day.
        assert_eq!(utc_iso(1_709_211_909_000), "2024-02-29T13:05:09Z");
        assert_eq!(utc_hm(1_709_211_909_000), "13:05");
        assert_eq!(utc_iso(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn days_are_labelled_by_how_far_back_they_are() {
        // 2026-12-02 is a Wednesday.
        let today = day(1_796_212_800_000);
        assert_eq!(full_date(today), "Wednesday, 2 December 2026");
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(day_label(today - 1, today), "Yesterday");
        assert_eq!(day_label(today - 2, today), "Monday");
        assert_eq!(day_label(today - 6, today), "Thursday");
        assert_eq!(day_label(today - 7, today), "Wednesday, 25 November 2026");
        assert_eq!(day_label(today - 400, today), "Tuesday, 28 October 2025");
        assert_eq!(day_label(today + 1, today), "Thursday, 3 December 2026");
        assert_eq!(full_date(0), "Thursday, 1 January 1970");
        assert_eq!(full_date(-1), "Wednesday, 31 December 1969");
    }

    #[test]
    fn a_day_starts_at_midnight_of_its_zone() {
        let midnight = 1_796_169_600_000; // 2026-12-02T00:00:00Z
        assert_eq!(day(midnight) - day(midnight - 1), 1);
        // 23:30 UTC on the 1st is 00:30 on the 2nd an hour east.
        let late = midnight - 30 * 60_000;
        assert_eq!(day(late + 3_600_000), day(midnight));
        assert_eq!(
            tooltip(late, false),
            "Tuesday, 1 December 2026 at 23:30 UTC"
        );
        assert_eq!(
            tooltip(late + 3_600_000, true),
            "Wednesday, 2 December 2026 at 00:30"
        );
    }
}
