//! Rebuilds when migrations change (they are embedded by `sqlx::migrate!`)
//! and derives the list of common passwords the password rule needs.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=src/domain/common_passwords.txt");

    // Passwords under 12 characters are refused by length already; only
    // the longer common ones need a lookup, in the server and the browser.
    let full = std::fs::read_to_string("src/domain/common_passwords.txt")
        .expect("app/src/domain/common_passwords.txt is part of the repository");
    let long: Vec<&str> = full
        .lines()
        .map(str::trim)
        .filter(|line| line.chars().count() >= 12)
        .collect();
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        Path::new(&out).join("common_long_passwords.txt"),
        long.join("\n"),
    )
    .expect("write the derived list");
}
