//! Words around numbers, as the pages and the command line say them.

/// `count` and its noun in the number that goes with it: `counted(1,
/// "row", "rows")` is "1 row", 0 and 2 take "rows". English only, as every
/// page is.
pub fn counted(count: impl Into<i128>, one: &str, many: &str) -> String {
    let count = count.into();
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_row_and_many_rows() {
        assert_eq!(counted(0, "row", "rows"), "0 rows");
        assert_eq!(counted(1, "row", "rows"), "1 row");
        assert_eq!(counted(2, "row has", "rows have"), "2 rows have");
    }
}
