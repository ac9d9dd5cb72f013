//! Message times. The server renders them in UTC (it cannot know the reader's zone); once
//! hydrated, the browser shows local time. Both render the same text during hydration.

/// `HH:MM` in UTC.
pub(crate) fn utc_hm(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let day_secs = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", day_secs / 3600, day_secs % 3600 / 60)
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

/// `HH:MM` in the browser's time zone.
#[cfg(feature = "hydrate")]
pub(crate) fn local_hm(ts_ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts_ms as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
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
}
