//! The scenario catalog embedded in the binary, so `orchsim run` works from any directory.

/// `(file name, TOML text)` of every scenario in `scenarios/`. A test checks this list against
/// the directory, so a new scenario file cannot be forgotten here.
pub const CATALOG: &[(&str, &str)] = &[
    (
        "quickstart.toml",
        include_str!("../scenarios/quickstart.toml"),
    ),
    (
        "kubernetes.toml",
        include_str!("../scenarios/kubernetes.toml"),
    ),
    (
        "ci-regression.toml",
        include_str!("../scenarios/ci-regression.toml"),
    ),
];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_file_is_embedded_and_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = CATALOG.iter().map(|(f, _)| f.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "scenarios/ and CATALOG disagree");
        for (file, text) in CATALOG {
            let sc = orchsim_sim::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                format!("{}.toml", sc.name),
                *file,
                "name must match the file name"
            );
            assert!(
                text.starts_with('#'),
                "{file}: needs a comment header saying its question"
            );
        }
        assert!(find(DEFAULT).is_some());
        assert!(find("quickstart.toml").is_some());
    }
}
