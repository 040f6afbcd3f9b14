//! `[trace]` scenarios: a GPU trace's nodes and pods replayed in the cluster world, with the
//! arrival and departure times the trace gives, and located errors for what cannot be read.

use std::collections::BTreeMap;

use orchsim_sim::{parse_with_files, run, PodState, ScenarioFiles};

/// Files held in memory, by the path a scenario writes.
struct Files(BTreeMap<&'static str, &'static str>);

impl ScenarioFiles for Files {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        self.0
            .get(path)
            .map(|t| (format!("mem/{path}"), t.to_string()))
            .ok_or_else(|| format!("no file `{path}`"))
    }
}

const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model\n\
                     n0,32000,65536,2,V100\n\
                     n1,32000,65536,0,\n";

// Created out of order on purpose; deleted 100 s and 50 s later; the last one never.
const PODS: &str =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n\
                    late,1000,1024,1,1000,V100,30,130\n\
                    early,1000,1024,1,500,,10,60\n\
                    cpu,1000,1024,0,0,,20,\n";

fn files() -> Files {
    Files(BTreeMap::from([("nodes.csv", NODES), ("pods.csv", PODS)]))
}

fn scenario(trace: &str) -> String {
    format!(
        "name = \"t\"\nduration_s = 1000\nsample_interval_s = 10\n\n[trace]\nnodes = \"nodes.csv\"\npods = \"pods.csv\"\n{trace}\n\n[observers]\ngpu_fragmentation = true\n"
    )
}

#[test]
fn pods_arrive_and_leave_at_the_trace_times() {
    let sc = parse_with_files("t.toml", &scenario("departures = true"), &files()).unwrap();
    assert_eq!(sc.nodes().len(), 2, "the trace's nodes are the cluster");
    let r = run(&sc).unwrap();
    let by_name = |n: &str| r.records.iter().find(|p| p.spec.name == n).unwrap();
    let secs = |t: orchsim_kernel::SimTime| t.as_nanos() / 1_000_000_000;
    // Arrivals in time order, whatever the file's order.
    let order: Vec<&str> = r.records.iter().map(|p| p.spec.name.as_str()).collect();
    assert_eq!(order, ["early", "cpu", "late"]);
    let early = by_name("early");
    assert_eq!(secs(early.submitted), 10);
    assert_eq!(early.state, PodState::Finished);
    // Ran for deletion − creation (50 s) after it started (no start latency here).
    assert_eq!(
        secs(early.finished.unwrap()) - secs(early.started.unwrap()),
        50
    );
    let late = by_name("late");
    assert_eq!(late.spec.gpu_models, vec!["V100".to_string()]);
    assert_eq!(late.placements[0].devices.len(), 1);
    // No deletion time: runs to the end.
    assert_eq!(by_name("cpu").state, PodState::Running);
    let frag = r.fragmentation.expect("observer on");
    assert_eq!(frag.rows.len(), 101);
}

#[test]
fn file_order_arrivals_and_no_departures() {
    let sc = parse_with_files(
        "t.toml",
        &scenario("arrivals = \"file-order\"\ninterval_s = 5\nmax_pods = 2"),
        &files(),
    )
    .unwrap();
    let r = run(&sc).unwrap();
    let arrivals: Vec<(String, u64)> = r
        .records
        .iter()
        .map(|p| (p.spec.name.clone(), p.submitted.as_nanos() / 1_000_000_000))
        .collect();
    assert_eq!(
        arrivals,
        [("late".to_string(), 0), ("early".to_string(), 5)]
    );
    assert!(r.records.iter().all(|p| p.state == PodState::Running));
}

#[test]
fn trace_errors_are_located() {
    let err = |trace: &str| {
        parse_with_files("t.toml", &scenario(trace), &files())
            .map(|_| ())
            .unwrap_err()
    };
    let e = err("format = \"borg-2019\"");
    assert_eq!((e.field.as_str(), e.line), ("trace.format", 8));
    assert!(e.message.contains("\"google-2011\""), "{}", e.message);
    let e = err("arrivals = \"whenever\"");
    assert_eq!(e.field, "trace.arrivals");
    let e = err("interval_s = 3");
    assert!(e.message.contains("creation-time"), "{}", e.message);
    let e = err("time_scale = 0");
    assert_eq!(e.field, "trace.time_scale");
    // A file that cannot be read is reported at the key that names it.
    let e = parse_with_files(
        "t.toml",
        &scenario("").replace("pods.csv", "missing.csv"),
        &files(),
    )
    .unwrap_err();
    assert_eq!(e.field, "trace.pods");
    assert!(e.message.contains("missing.csv"), "{}", e.message);
    // A bad cell is located in the CSV, by file, line and column.
    let bad = Files(BTreeMap::from([
        ("nodes.csv", NODES),
        (
            "pods.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time\np,1,1,1,1000,soon\n",
        ),
    ]));
    let e = parse_with_files("t.toml", &scenario(""), &bad).unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.column), ("mem/pods.csv", 2, 14));
    assert_eq!(e.field, "creation_time");
    // Without a place to read files from, a trace scenario says so.
    let e = orchsim_sim::parse("t.toml", &scenario("")).unwrap_err();
    assert!(
        e.message.contains("no directory to read files from"),
        "{}",
        e.message
    );
}

#[test]
fn trace_names_and_times_that_cannot_mean_one_thing_are_refused() {
    let with_pods =
        |pods: &'static str| Files(BTreeMap::from([("nodes.csv", NODES), ("pods.csv", pods)]));
    let header = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\n";
    let leak =
        |rows: &str| -> &'static str { Box::leak(format!("{header}{rows}").into_boxed_str()) };
    let parse = |files: &Files, extra: &str| {
        parse_with_files(
            "t.toml",
            &format!("{}{extra}", scenario("departures = true")),
            files,
        )
    };
    // Two pods with one name would be told apart by name when one of them leaves.
    let e = parse(&with_pods(leak("p,1,1,0,0,0,5\np,1,1,0,0,1,9\n")), "").unwrap_err();
    assert!(e.message.contains("`p` appears twice"), "{}", e.message);
    // Deleted before created.
    let e = parse(&with_pods(leak("p,1,1,0,0,9,5\n")), "").unwrap_err();
    assert!(e.message.contains("before it is created"), "{}", e.message);
    // A name a workload generates.
    let workload = "\n[[workloads]]\nname = \"web\"\nkind = \"service\"\narrival_rate_per_s = 1\ncpu_milli = 1\nmemory_mib = 1\n";
    let e = parse(&with_pods(leak("web-3,1,1,0,0,0,5\n")), workload).unwrap_err();
    assert!(
        e.message.contains("workload `web` generates"),
        "{}",
        e.message
    );
    // Deleted when created: leaves at once, not at the end.
    let sc = parse(&with_pods(leak("p,1,1,1,500,5,5\n")), "").unwrap();
    let r = run(&sc).unwrap();
    assert_eq!(r.records[0].state, PodState::Finished);
    // Duplicate node names.
    let nodes = Files(BTreeMap::from([
        (
            "nodes.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,1000,1024,0,\nn0,1000,1024,0,\n",
        ),
        ("pods.csv", PODS),
    ]));
    let e = parse(&nodes, "").unwrap_err();
    assert_eq!(e.field, "trace.nodes");
}

/// Google 2019's machines carry their top-of-rack switch as a label (a topology key for
/// spread and anti-affinity); the 2011 options apply.
#[test]
fn google_2019_machines_carry_their_switch() {
    let files = Files(BTreeMap::from([
        (
            "m.json",
            include_str!("../../tests/traces/google-2019/machine_events.json"),
        ),
        (
            "i.json",
            include_str!("../../tests/traces/google-2019/instance_events.json"),
        ),
    ]));
    let text = "name = \"g\"\nduration_s = 600\n[trace]\nformat = \"google-2019\"\nnodes = \"m.json\"\npods = \"i.json\"\ncpu_unit_cores = 32\n";
    let sc = parse_with_files("g.toml", text, &files).unwrap();
    let nodes = sc.nodes();
    let switches: Vec<(&str, Option<&str>, u64)> = nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.labels.get("google.com/switch").map(String::as_str),
                n.allocatable.cpu_milli,
            )
        })
        .collect();
    assert_eq!(
        switches,
        [("m1001", Some("s1"), 16_000), ("m1002", Some("s2"), 32_000)]
    );
    // Another format's keys are refused at the key.
    let bad = text.replace("cpu_unit_cores = 32", "containers = \"c.csv\"");
    let e = parse_with_files("g.toml", &bad, &files).unwrap_err();
    assert!(
        e.message.contains("expected no `containers`"),
        "{}",
        e.message
    );
}
