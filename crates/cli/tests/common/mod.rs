//! What the CLI's end-to-end tests share: where the real binaries are and
//! which environment variables would change what they do.

#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;

/// Environment variables that would change what a child does; tests remove
/// them so that the developer's own settings never leak in.
pub const CHINWAG_ENV: &[&str] = &[
    "CHINWAG_SERVER",
    "CHINWAG_NAME",
    "CHINWAG_PASSWORD",
    "CHINWAG_ADMIN_PASSWORD",
    "CHINWAG_CONFIG",
    "CHINWAG_LISTEN",
    "CHINWAG_LOG",
    "CHINWAG_DATA",
];

/// The `chinwag` binary under test.
pub fn chinwag_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chinwag"))
}

/// The `chinwagd` binary, which cargo builds next to `chinwag` for a
/// workspace test run.
pub fn chinwagd_bin() -> PathBuf {
    let path = chinwag_bin().with_file_name(format!("chinwagd{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the server binary is missing: {} does not exist. These tests run the real \
         `chinwagd`; build it first with `cargo build -p chinwag-server --bin chinwagd`, \
         or run `cargo test --workspace`, which builds it.",
        path.display()
    );
    path
}
