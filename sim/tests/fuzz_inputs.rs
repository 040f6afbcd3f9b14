//! No panic reachable from input: every parser orchsim exposes to a user's file or argument,
//! fed random bytes and random edits of valid documents, returns a value or a located error;
//! scenarios that parse also run (briefly); the renderers take any cell and any line.
//!
//! Property tests with a fixed case count, so CI runs them in bounded time; raise
//! `PROPTEST_CASES` to fuzz longer.

use orchsim_report::{Cell, Table};
use orchsim_sched::gpu::Models;
use proptest::prelude::*;

const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");
const KUBERNETES: &str = include_str!("../../scenarios/kubernetes.toml");
const DUAL: &str = include_str!("../../scenarios/dual-orchestration.toml");
const FGD: &str = include_str!("../../scenarios/fgd-atc23.toml");
const ARCHITECTURES: &str = include_str!("../../scenarios/architectures.toml");
const KUBE_CONFIG: &str = include_str!("../../tests/k8s/most-allocated.yaml");
const KUBE_CLUSTER: &str = include_str!("../../tests/k8s/cluster.yaml");
const NET_PROFILE: &str = include_str!("../../netmodel/profiles/default.toml");

/// Tokens that make edits look like the documents they damage, and the values that broke
/// parsers before: huge, negative, non-finite and very long.
const TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    ",",
    "\n",
    ".",
    ":",
    "- ",
    "  ",
    "#",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "18446744073709551615",
    "9223372036854775807",
    "1e-300",
    "[[hosts]]",
    "[[workloads]]",
    "[scheduler]",
    "name = \"x\"",
    "count = 0",
    "kind = \"batch\"",
    "duration_s = 1e15",
    "{ dist = \"choice\", values = [], weights = [] }",
    "{ dist = \"lognormal\", median = 0, sigma = 1e9 }",
    "tasks = [0, 0]",
    "null",
    "~",
    "true",
    "- name: NodeResourcesFit",
    "weight: 101",
    "kind: Node",
    "items:",
    "\u{0}",
    "é",
    "\u{feff}",
];

fn long_string() -> String {
    "a".repeat(70_000)
}

/// A strategy for `text` with up to 8 random edits: a deleted span, a token or a very long
/// word inserted, a line repeated.
fn edited(text: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (any::<u16>(), 0u8..4, any::<u16>(), 0usize..TOKENS.len()),
        0..8,
    )
    .prop_map(move |edits| {
        let mut s = text.to_string();
        for (at, op, len, token) in edits {
            let at = s
                .char_indices()
                .map(|(i, _)| i)
                .nth(at as usize % (s.chars().count() + 1))
                .unwrap_or(s.len());
            match op {
                0 => {
                    let end = s[at..]
                        .char_indices()
                        .map(|(i, _)| at + i)
                        .nth(len as usize % 40)
                        .unwrap_or(s.len());
                    s.replace_range(at..end, "");
                }
                1 => s.insert_str(at, TOKENS[token]),
                2 => s.insert_str(at, &long_string()),
                _ => {
                    let start = s[..at].rfind('\n').map_or(0, |i| i + 1);
                    let end = s[at..].find('\n').map_or(s.len(), |i| at + i);
                    let line = format!("{}\n", &s[start..end]);
                    s.insert_str(start, &line);
                }
            }
        }
        s
    })
}

fn bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..600)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Parses `text` as a simulation scenario; if it parses, runs a short, bounded stretch of it.
/// Rendering the error must not panic either (long lines, far columns).
fn scenario(text: &str) {
    match orchsim_sim::parse("fuzz.toml", text) {
        Ok(mut sc) => {
            sc.duration = sc.duration.min(orchsim_kernel::SimDuration::from_secs(30));
            sc.sample_interval = sc.sample_interval.max(sc.duration);
            sc.max_events = 20_000;
            // Too many hosts to build in a unit of fuzzing time is a budget matter, tested
            // elsewhere; the run itself must hold for what is built.
            if sc.host_count() <= 2_000 {
                let _ = orchsim_sim::run(&sc);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// 64 cases per parser in CI; `PROPTEST_CASES` raises it.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn simulation_scenarios(text in prop_oneof![bytes(), edited(QUICKSTART), edited(KUBERNETES), edited(DUAL)]) {
        scenario(&text);
    }

    #[test]
    fn study_scenarios(text in prop_oneof![bytes(), edited(FGD), edited(ARCHITECTURES)]) {
        if let Err(e) = orchsim_sim::gpu_study::parse("fuzz.toml", &text) {
            let _ = e.to_string();
        }
        if let Err(e) = orchsim_sim::architectures::parse("fuzz.toml", &text) {
            let _ = e.to_string();
        }
        let _ = orchsim_sim::study_kind(&text);
    }

    #[test]
    fn kubernetes_yaml(text in prop_oneof![bytes(), edited(KUBE_CONFIG), edited(KUBE_CLUSTER)]) {
        if let Err(e) = orchsim_sched::kube::config::parse(&text, None) {
            let _ = e.to_string();
        }
        if let Err(e) = orchsim_sched::kube::objects::parse(&text) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn network_profiles(text in prop_oneof![bytes(), edited(NET_PROFILE)]) {
        if let Err(e) = orchsim_net::profile::Profile::parse("fuzz.toml", &text) {
            let _ = e.to_string();
        }
    }

    #[test]
    fn trace_tables(text in bytes(), header in any::<bool>()) {
        let text = if header {
            format!("sn,cpu_milli,memory_mib,gpu,model\n{text}")
        } else {
            format!("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n{text}")
        };
        let mut models = Models::default();
        let _ = orchsim_sim::trace::alibaba_gpu_nodes("n.csv", &text, &mut models).map_err(|e| e.to_string());
        let _ = orchsim_sim::trace::alibaba_gpu_tasks("t.csv", &text, &mut models).map_err(|e| e.to_string());
    }

    #[test]
    fn command_arguments(arg in prop_oneof![
        bytes(),
        prop::sample::select(TOKENS).prop_map(String::from),
        "[a-z.0-9]{0,20}=[-0-9.,:e]{0,30}",
        "[a-z_0-9]{1,20} ?[<>=!]{1,2} ?[-0-9.e]{0,12}( && [a-z_]{1,12}<[0-9]{1,3})?",
    ]) {
        let _ = orchsim_sim::sweep::parse_set(&arg).map_err(|e| e.to_string());
        let _ = orchsim_sim::plan::parse_target(&arg).map_err(|e| e.to_string());
    }

    #[test]
    fn tables_render_any_cell(cells in prop::collection::vec(
        prop_oneof![
            bytes().prop_map(Cell::Str),
            any::<f64>().prop_map(|v| Cell::Float(v, 3)),
            any::<i64>().prop_map(Cell::Int),
            Just(Cell::Str(long_string())),
            Just(Cell::Empty),
        ],
        1..12,
    )) {
        let mut t = Table::new((0..cells.len()).map(|i| format!("c{i}")));
        t.push(cells).unwrap();
        let _ = t.to_text();
        let _ = t.to_csv();
        let _ = t.to_json_rows();
        let _ = orchsim_report::key_value_text(&t);
    }
}
