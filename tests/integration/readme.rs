//! The README keeps its promises: its quickstart output is what the run prints, and every
//! TOML block in it is a scenario (or a fragment of one) that orchsim accepts.

use std::path::Path;

use crate::orchsim;

const README: &str = include_str!("../../README.md");

/// The fenced blocks of `lang` in the README, in order.
fn blocks(lang: &str) -> Vec<&'static str> {
    let fence = format!("```{lang}\n");
    README
        .split(&fence)
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect()
}

#[test]
fn the_quickstart_output_in_the_readme_is_what_the_run_prints() {
    let shown = blocks("text")[0];
    assert!(shown.starts_with("orchsim run: quickstart"), "{shown}");
    let tmp = tempfile::tempdir().unwrap();
    let o = orchsim()
        .arg("run")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let printed = String::from_utf8(o.stdout).unwrap();
    // Wall-clock lines vary; every other line is exact.
    let exact = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("simulated") && !l.starts_with("wrote"))
            .map(String::from)
            .collect()
    };
    assert_eq!(
        exact(shown),
        exact(&printed),
        "update the README's quickstart output"
    );
}

/// Runs `text` as a scenario file in `dir`, expecting success.
fn runs(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
    let o = orchsim()
        .args(["run", file, "--quiet", "--out", "out"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "README block `{file}` is rejected:\n{}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_toml_block_in_the_readme_is_accepted() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let tmp = tempfile::tempdir().unwrap();
    // Scenario files live in scenarios/, beside data/ (the trace fragment's paths).
    let dir = tmp.path().join("scenarios");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(Path::new(repo).join("data"), tmp.path().join("data")).unwrap();
    std::fs::copy(
        Path::new(repo).join("tests/k8s/most-allocated.yaml"),
        dir.join("kube-config.yaml"),
    )
    .unwrap();
    let trace = std::fs::read_to_string(
        Path::new(repo).join("data/alibaba-gpu-v2023/openb_pod_list_default.csv"),
    )
    .unwrap();
    let head: Vec<&str> = trace.lines().take(3).collect();
    std::fs::write(dir.join("pods.csv"), head.join("\n") + "\n").unwrap();
    // The Kubernetes cluster fragment's snapshot, manifests and watch log.
    for file in ["cluster.yaml", "app.yaml", "events.jsonl"] {
        std::fs::copy(
            Path::new(repo).join("examples/next").join(file),
            dir.join(file),
        )
        .unwrap();
    }
    // The Google 2011 fragment's tables.
    for table in ["machine_events.csv", "task_events.csv"] {
        std::fs::copy(
            Path::new(repo).join("tests/traces/google-2011").join(table),
            dir.join(table),
        )
        .unwrap();
    }

    let toml = blocks("toml");
    assert!(toml.len() >= 3, "{} TOML blocks", toml.len());
    let base = "name = \"fragment\"\nduration_s = 60\n";
    let hosts = "[[hosts]]\nname = \"h\"\ncount = 4\ncpu_milli = 16000\nmemory_mib = 65536\n";
    let workload = |name: &str| {
        format!(
            "[[workloads]]\nname = \"{name}\"\nkind = \"batch\"\narrival_rate_per_s = 1\n\
             cpu_milli = 500\nmemory_mib = 512\nduration_s = 10\n"
        )
    };
    for (i, block) in toml.iter().enumerate() {
        let file = format!("readme-{i}.toml");
        if block.starts_with("name =") {
            runs(&dir, &file, block);
        } else if block.starts_with("[trace]") {
            runs(&dir, &file, &format!("{base}{block}"));
        } else if block.starts_with("[control_plane]") {
            let ws: String = ["web", "api", "batch"]
                .iter()
                .map(|w| workload(w))
                .collect();
            runs(&dir, &file, &format!("{base}{hosts}{ws}{block}"));
        } else if block.starts_with("[[autoscalers]]") {
            let service = "[[workloads]]\nname = \"web\"\nkind = \"service\"\narrival_rate_per_s = 1\nmax_pods = 4\ncpu_milli = 500\nmemory_mib = 512\n";
            runs(&dir, &file, &format!("{base}{hosts}{service}{block}"));
        } else if block.starts_with("[network]") {
            // Service traffic between two services.
            let service = |name: &str| {
                format!(
                    "[[workloads]]\nname = \"{name}\"\nkind = \"service\"\narrival_rate_per_s = 1\nmax_pods = 4\ncpu_milli = 500\nmemory_mib = 512\n"
                )
            };
            // Hosts in the two sites its link joins, if it has one.
            let sites = if block.contains("[[links]]") {
                format!(
                    "{hosts}site = \"dc1\"\n{}site = \"cloud\"\n",
                    hosts.replace("name = \"h\"", "name = \"c\"")
                )
            } else {
                hosts.to_string()
            };
            runs(
                &dir,
                &file,
                &format!(
                    "{base}{sites}{}{}{block}",
                    service("frontend"),
                    service("api")
                ),
            );
        } else if block.starts_with("[ipam]") {
            let calico = "[network]\ndatapath = \"calico-bgp\"\n";
            runs(
                &dir,
                &file,
                &format!("{base}{hosts}{}{calico}{block}", workload("web")),
            );
        } else if block.starts_with("[[upgrades]]") {
            let service = "[[workloads]]\nname = \"web\"\nkind = \"service\"\narrival_rate_per_s = 1\nmax_pods = 4\ncpu_milli = 500\nmemory_mib = 512\n[orchestrator]\npreset = \"kubernetes\"\n";
            let base = base.replace("duration_s = 60", "duration_s = 900");
            runs(&dir, &file, &format!("{base}{hosts}{service}{block}"));
        } else if block.starts_with("[api_server]") {
            runs(
                &dir,
                &file,
                &format!("{base}{hosts}{}{block}", workload("web")),
            );
        } else if block.starts_with("[[workloads]]") {
            // A workload of its own (Jobs).
            runs(&dir, &file, &format!("{base}{hosts}{block}"));
        } else if block.starts_with("[[hosts]]") {
            // A resizable host group with its provisioner.
            runs(&dir, &file, &format!("{base}{}{block}", workload("web")));
        } else if block.starts_with("[orchestrator]") {
            // The faults select hosts by a zone label.
            let zoned = format!(
                "{hosts}labels = {{ \"topology.kubernetes.io/zone\" = \"dc1-a\" }}\n{}",
                workload("web")
            );
            runs(&dir, &file, &format!("{base}{zoned}{block}"));
        } else {
            panic!(
                "README TOML block {i} is of no known kind; teach this test to check it:\n{block}"
            );
        }
    }
}

/// The calibration paragraph's CLI commands print the numbers it quotes.
#[test]
fn the_readme_calibration_commands_print_its_numbers() {
    let rows = |args: &[&str]| -> Vec<Vec<String>> {
        let o = orchsim()
            .args(["net", "compare", "--format", "csv"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    };
    for (args, quoted) in [
        (
            "--platform cilium-bench --msg-size 16384 --datapaths host,calico-bgp",
            &[
                ("host", "41.600", "1.000"),
                ("calico-bgp", "32.606", "0.784"),
            ][..],
        ),
        (
            "--platform infrabuilder --msg-size 131072 --datapaths host",
            &[("host", "31.042", "1.000")][..],
        ),
    ] {
        let flat = README.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("`orchsim net compare {args}`")),
            "the README no longer shows `{args}`"
        );
        let got = rows(&args.split(' ').collect::<Vec<_>>());
        for ((dp, gbps, ratio), row) in quoted.iter().zip(&got) {
            assert_eq!(
                (row[0].as_str(), row[2].as_str(), row[3].as_str()),
                (*dp, *gbps, *ratio)
            );
        }
    }
}

/// The dual-orchestration paragraph's numbers are what the three scenarios print.
#[test]
fn the_readme_dual_orchestration_numbers_are_what_the_runs_print() {
    let flat = README.split_whitespace().collect::<Vec<_>>().join(" ");
    for quoted in [
        "batch jobs wait 35 s on average instead of 7 s",
        "busy 2.4% of the time instead of 4.3%",
        "5 of Marathon's 120 instances never find a host and batch waits 11 s on average",
    ] {
        assert!(
            flat.contains(quoted),
            "the README no longer says `{quoted}`"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let table = |scenario: &str, file: &str| -> Vec<Vec<String>> {
        let out = tmp.path().join(scenario);
        let o = orchsim()
            .args(["run", scenario, "--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join(file))
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    };
    let cell = |t: &[Vec<String>], row: &str, col: &str| -> f64 {
        let c = t[0].iter().position(|x| x == col).unwrap();
        let r = t.iter().find(|r| r[0] == row).unwrap();
        r[c].parse().unwrap()
    };
    let offers = table("dual-orchestration", "workloads.csv");
    let one = table("dual-orchestration-kubernetes", "workloads.csv");
    let split = table("dual-orchestration-split", "workloads.csv");
    assert_eq!(cell(&offers, "batch", "wait_last_mean_s").round(), 35.0);
    assert_eq!(cell(&one, "batch", "wait_last_mean_s").round(), 7.0);
    assert_eq!(cell(&split, "batch", "wait_last_mean_s").round(), 11.0);
    assert_eq!(cell(&split, "web", "pods_placed"), 115.0);
    let busy = |scenario: &str| {
        let t = table(scenario, "schedulers.csv");
        (cell(&t, "kubernetes", "busy_pct") * 10.0).round() / 10.0
    };
    assert_eq!(busy("dual-orchestration"), 2.4);
    assert_eq!(busy("dual-orchestration-kubernetes"), 4.3);
}

/// The host-failure and container-reuse paragraphs' sweeps print the numbers they quote.
#[test]
fn the_readme_failure_sweeps_print_its_numbers() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for (scenario, set, key, a, b) in [
        (
            "scenarios/host-failure.toml",
            "orchestrator.preset=kubernetes,swarm,mesos-marathon",
            ("orchestrator.preset", 20),
            ("pod_losses_mean", 15),
            ("recovery_max_ms_mean", 20),
        ),
        (
            "scenarios/autoscale-diurnal.toml",
            "autoscalers.0.target_cpu_pct=50,60,80,100",
            ("autoscalers.0.target_cpu_pct", 28),
            ("replicas_mean_mean", 18),
            ("overloaded_ms_mean", 18),
        ),
        (
            "scenarios/ip-pools.toml",
            "ipam.pools.web=20,25",
            ("ipam.pools.web", 14),
            ("upgrade_duration_max_ms_mean", 28),
            ("ip_exhaustions_mean", 19),
        ),
        (
            "scenarios/rolling-upgrade.toml",
            "upgrades.0.strategy=rolling,rebuild-in-place",
            ("upgrades.0.strategy", 19),
            ("upgrade_duration_max_ms_mean", 28),
            ("upgrade_below_desired_ms_mean", 29),
        ),
        (
            "scenarios/rolling-upgrade.toml",
            "orchestrator.preset=kubernetes,swarm,mesos-marathon",
            ("orchestrator.preset", 19),
            ("upgrade_duration_max_ms_mean", 28),
            ("upgrade_below_desired_ms_mean", 29),
        ),
        (
            "scenarios/control-plane.toml",
            "api_server.scheduler_qps=50,-1",
            ("api_server.scheduler_qps", 24),
            ("time_scheduler_mean_ms_mean", 27),
            ("time_api_bind_mean_ms_mean", 26),
        ),
        (
            "scenarios/control-plane.toml",
            "api_server.watch_cache=true,false",
            ("api_server.watch_cache", 22),
            ("time_api_bind_mean_ms_mean", 26),
            ("etcd_busy_pct_mean", 18),
        ),
        (
            "scenarios/spot-provisioning.toml",
            "provisioning.provisioner=cluster-autoscaler,karpenter",
            ("provisioning.provisioner", 24),
            ("cost_mean", 12),
            ("hosts_mean_mean", 16),
        ),
        (
            "scenarios/networks.toml",
            "network.datapath=overlay,flannel-vxlan,flannel-udp,flannel-host-gw,calico-bgp,calico-vxlan",
            ("network.datapath", 16),
            ("net_cpu_cores_mean", 18),
            ("net_latency_p99_us_mean", 23),
        ),
        (
            "scenarios/reuse-vs-reschedule.toml",
            "orchestrator.override.restart_in_place=false,true",
            ("orchestrator.override.restart_in_place", 38),
            ("restarts_in_place_mean", 22),
            ("image_pulls_mean", 16),
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let o = orchsim()
            .args([
                "sweep", scenario, "--set", set, "--quiet", "--format", "csv", "--out",
            ])
            .arg(tmp.path())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = String::from_utf8(o.stdout).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        for line in lines {
            let row: Vec<&str> = line.split(',').collect();
            let quoted = format!(
                "{:<w0$} …  {:>w1$}  {:>w2$}",
                row[col(key.0)],
                row[col(a.0)],
                row[col(b.0)],
                w0 = key.1,
                w1 = a.1,
                w2 = b.1
            );
            assert!(
                readme.contains(&quoted),
                "README does not quote the sweep's row:\n{quoted}"
            );
        }
    }
}

/// The README's `net policy` example prints exactly what it shows.
#[test]
fn the_readme_net_policy_example_is_what_the_command_prints() {
    let (printed, shown) = example("text", "$ orchsim net policy");
    assert_eq!(printed, shown, "update the README's net policy output");
}

/// The README's `lang` block that starts with `command`: what the command prints now, and
/// what the block shows after it.
fn example(lang: &str, command: &str) -> (String, &'static str) {
    let block = blocks(lang)
        .into_iter()
        .find(|b| b.starts_with(command))
        .unwrap_or_else(|| panic!("the README shows `{command}`"));
    let (line, shown) = block.split_once('\n').unwrap();
    let args: Vec<&str> = line
        .trim_start_matches("$ orchsim ")
        .split_whitespace()
        .collect();
    (crate::stdout_of(orchsim().args(&args)), shown)
}

/// The cluster section's run prints what the README shows, but for its wall-time line and
/// the list of files written.
#[test]
fn the_readme_cluster_run_is_what_the_command_prints() {
    let block = blocks("text")
        .into_iter()
        .find(|b| b.starts_with("$ orchsim run examples/next/next.toml"))
        .expect("the README shows the cluster run");
    let shown = block.split_once('\n').unwrap().1;
    let tmp = tempfile::tempdir().unwrap();
    let printed = crate::stdout_of(
        orchsim()
            .args(["run", "examples/next/next.toml", "--out"])
            .arg(tmp.path()),
    );
    let kept: Vec<&str> = printed
        .lines()
        .filter(|l| !l.starts_with("simulated ") && !l.starts_with("wrote "))
        .collect();
    assert_eq!(kept.join("\n"), shown.trim_end());
}

/// The networks section's `plan --set` answers are what plan prints.
#[test]
fn the_readme_networks_plans_print_its_answers() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut checked = 0;
    for line in readme.lines() {
        let Some(cmd) = line.strip_prefix("$ orchsim plan scenarios/networks.toml ") else {
            continue;
        };
        // Arguments as a shell would split them: the target is quoted.
        let mut args: Vec<String> = Vec::new();
        for (i, part) in cmd.split('\'').enumerate() {
            if i % 2 == 1 {
                args.push(part.to_string());
            } else {
                args.extend(part.split_whitespace().map(String::from));
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let o = orchsim()
            .args(["plan", "scenarios/networks.toml", "--quiet", "--out"])
            .arg(tmp.path())
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let printed = String::from_utf8(o.stdout).unwrap();
        let answer = printed
            .lines()
            .find(|l| l.starts_with("answer:"))
            .unwrap_or_else(|| panic!("no answer:\n{printed}"));
        assert!(
            readme.contains(&format!("{cmd}\n{answer}\n")),
            "README does not show the answer `{answer}` under `{cmd}`"
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "the README's networks plans");
    // The datapaths it names as needing the same seven hosts.
    for d in [
        "host",
        "overlay",
        "flannel-vxlan",
        "flannel-host-gw",
        "calico-vxlan",
    ] {
        assert!(readme.contains(&format!("{d},")) || readme.contains(&format!("{d} ")));
        let tmp = tempfile::tempdir().unwrap();
        let o = orchsim()
            .args(["plan", "scenarios/networks.toml", "--quiet", "--out"])
            .arg(tmp.path())
            .args(["--set", &format!("network.datapath={d}")])
            .args(["--target", "net_served_pct>99 && pod_cpu_starved_pct<0.1"])
            .args(["--vary", "hosts.worker.count=4..24"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let printed = String::from_utf8(o.stdout).unwrap();
        assert!(
            printed.contains("answer: hosts.worker.count = 7 "),
            "{d}:\n{printed}"
        );
    }
}

/// The hybrid-burst table: the VPN as the scenario has it, the dedicated line by `sweep --set`.
#[test]
fn the_readme_hybrid_burst_table_is_what_the_runs_print() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let line = [
        "links.0.gbit_s=10",
        "links.0.latency_ms=2",
        "links.0.cost_per_gb=0.02",
        "links.0.cost_per_hour=1.5",
    ];
    for (name, sets) in [("VPN", &[][..]), ("dedicated line", &line[..])] {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = orchsim();
        cmd.args([
            "sweep",
            "scenarios/hybrid-burst.toml",
            "--quiet",
            "--format",
            "csv",
        ]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        if sets.is_empty() {
            // A sweep needs a setting: the VPN's own capacity.
            cmd.args(["--set", "links.0.gbit_s=1"]);
        }
        let o = cmd
            .arg("--out")
            .arg(tmp.path())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = String::from_utf8(o.stdout).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        let v = |k: &str| -> f64 {
            row[header.iter().position(|h| *h == k).unwrap()]
                .parse()
                .unwrap()
        };
        let quoted = format!(
            "| {name} | {:.2} % | {:.0} µs | {:.2} | {:.2} |",
            v("net_served_pct_mean"),
            v("net_latency_p99_us_mean"),
            v("cost_mean"),
            v("cost_transfer_mean")
        );
        assert!(readme.contains(&quoted), "README does not show:\n{quoted}");
    }
}

/// The service-proxy table: two sweeps, their rows by the value each sets.
#[test]
fn the_readme_service_proxy_table_is_what_the_sweeps_print() {
    for (set, rows) in [
        (
            "network.proxy=iptables,nftables",
            &["iptables", "nftables"][..],
        ),
        ("orchestrator.preset=kubernetes,swarm", &["", "swarm"][..]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let o = orchsim()
            .args([
                "sweep",
                "scenarios/service-proxy.toml",
                "--quiet",
                "--set",
                set,
            ])
            .arg("--out")
            .arg(tmp.path())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let runs = crate::rows(&tmp.path().join("sweep.csv"));
        assert_eq!(runs.len(), rows.len(), "{set}");
        for (run, name) in runs.iter().zip(rows) {
            // The Kubernetes row of the preset sweep is the iptables row again.
            let name = if name.is_empty() { "iptables" } else { name };
            let quoted = format!(
                "| {name} | {:.0} µs | {:.2} | {:.3} % |",
                crate::num(run, "net_latency_p99_us"),
                crate::num(run, "net_cpu_cores"),
                crate::num(run, "net_failed_pct"),
            );
            assert!(README.contains(&quoted), "README does not show:\n{quoted}");
        }
    }
}

/// The network section's first example prints what the README shows, digest included.
#[test]
fn the_readme_net_compare_example_is_what_the_command_prints() {
    let (printed, shown) = example(
        "text",
        "$ orchsim net compare --datapaths host,bridge,overlay,flannel-udp",
    );
    assert_eq!(printed, shown, "update the README's net compare output");
}

/// The latency-under-load examples print what the README shows, behind both qdiscs.
#[test]
fn the_readme_loaded_latency_examples_are_what_the_command_prints() {
    for q in ["pfifo", "fq_codel"] {
        let cmd = format!(
            "$ orchsim net compare --datapaths host,flannel-vxlan,calico-bgp+wireguard --link 1g --load 4 --qdisc {q}"
        );
        let (printed, shown) = example("console", &cmd);
        assert_eq!(printed, shown, "update the README's {q} example");
    }
}

/// The `fit` example prints what the README shows (it exits 1: something does not fit).
#[test]
fn the_readme_fit_example_is_what_the_command_prints() {
    let fits: Vec<&str> = blocks("text")
        .into_iter()
        .filter(|b| b.starts_with("$ orchsim fit"))
        .collect();
    assert!(
        fits.len() >= 2,
        "the README shows `orchsim fit` for Kubernetes and Swarm"
    );
    for block in fits {
        let (line, shown) = block.split_once('\n').unwrap();
        let args: Vec<&str> = line
            .trim_start_matches("$ orchsim ")
            .split_whitespace()
            .collect();
        let out = orchsim().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{line}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), shown, "{line}");
    }
}

/// The `characterize` example prints what the README shows.
#[test]
fn the_readme_characterize_example_is_what_the_command_prints() {
    let (printed, shown) = example("text", "$ orchsim characterize");
    assert_eq!(printed, shown);
}

/// The `net proxy` example's rows are what the command prints.
#[test]
fn the_readme_net_proxy_example_is_what_the_command_prints() {
    let (printed, shown) = example("console", "$ orchsim net proxy");
    assert!(
        printed.starts_with(shown),
        "update the README's net proxy output:\n{printed}"
    );
}
