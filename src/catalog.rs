//! The scenario catalog embedded in the binary, so `orchsim run` works from any directory.

/// `(file name, TOML text)` of every scenario in `scenarios/`. A test checks this list against
/// the directory, so a new scenario file cannot be forgotten here.
pub const CATALOG: &[(&str, &str)] = &[(
    "quickstart.toml",
    include_str!("../scenarios/quickstart.toml"),
)];

/// The default scenario of `orchsim run`.
pub const DEFAULT: &str = "quickstart";

/// The embedded scenario called `name` (with or without `.toml`).
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    CATALOG
        .iter()
        .find(|(file, _)| file.strip_suffix(".toml") == Some(stem))
        .copied()
}
