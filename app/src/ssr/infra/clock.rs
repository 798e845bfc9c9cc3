/// Now, as Unix milliseconds (UTC): how instants are stored.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// YYYY-MM-DD of a Unix-milliseconds instant, in UTC.
pub fn utc_date(millis: i64) -> String {
    utc(millis, "[year]-[month]-[day]")
}

/// HH:MM:SS of a Unix-milliseconds instant, in UTC.
pub fn utc_time(millis: i64) -> String {
    utc(millis, "[hour]:[minute]:[second]")
}

/// YYYY-MM-DD HH:MM UTC of a Unix-milliseconds instant.
pub fn utc_date_time(millis: i64) -> String {
    utc(millis, "[year]-[month]-[day] [hour]:[minute] UTC")
}

fn utc(millis: i64, pattern: &str) -> String {
    let instant = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000);
    let format = time::format_description::parse_borrowed::<2>(pattern);
    match (instant, format) {
        (Ok(instant), Ok(format)) => instant.format(&format).unwrap_or_else(|_| "unknown".into()),
        _ => "unknown".into(),
    }
}
