//! `orchsim explain`: its arguments and printing; the analysis is `orchsim_app::explain`
//! (Kubernetes objects or a scenario's hosts) and `orchsim_app::gpu_study::explain` (one
//! placement of a GPU study).

use std::path::PathBuf;

use orchsim_app::explain::ExplainRequest;
use orchsim_app::{Error, Source};

use crate::Format;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Nodes: Kubernetes YAML (`kubectl get nodes -o yaml`, a List or a multi-document
    /// stream), or a scenario (a TOML file or an embedded name): its hosts, empty, or with
    /// `--at` as its run leaves them at that time.
    #[arg(long, required_unless_present = "study")]
    nodes: Option<PathBuf>,
    /// With a scenario for --nodes: simulate it to this many seconds and place the pod on the
    /// cluster as it is then (pods and GPU devices in use included).
    #[arg(long)]
    at: Option<f64>,
    /// Pods already bound (`spec.nodeName`), same shapes. Optional.
    #[arg(long)]
    pods: Option<PathBuf>,
    /// The pod to place: a YAML file with exactly one Pod.
    #[arg(long, required_unless_present = "study")]
    pod: Option<PathBuf>,
    /// kubernetes, swarm, or a bin-packing algorithm (first-fit, best-fit, worst-fit,
    /// dot-product).
    #[arg(long, default_value = "kubernetes")]
    scheduler: String,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) for `kubernetes`.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Seed of the tie-breaking stream (default 0); with --study, the experiment's seed
    /// (default: the scenario's first).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// A GPU study scenario (file or embedded name, e.g. `fgd-atc23`): replay one of its
    /// experiments and explain the placement of one task, devices included.
    #[arg(long, conflicts_with_all = ["nodes", "pods", "pod", "profile", "at"])]
    study: Option<String>,
    /// With --study: the policy (default: the scenario's first).
    #[arg(long, requires = "study")]
    policy: Option<String>,
    /// With --study: tasks submitted before the one explained (default 0: the first).
    #[arg(long, requires = "study", default_value_t = 0)]
    after: usize,
    /// With --study: feasible nodes listed in the table, best first (JSON lists all).
    #[arg(long, requires = "study", default_value_t = 10)]
    top: usize,
}

pub fn explain(args: ExplainArgs) -> Result<(), Error> {
    if let Some(study) = &args.study {
        let view = orchsim_app::gpu_study::explain(
            &Source::resolve(Some(study))?,
            args.policy.as_deref(),
            args.seed,
            args.after,
            args.top,
        )?;
        return orchsim_app::render::print(&view, args.format.into());
    }
    let (Some(nodes), Some(pod)) = (args.nodes, args.pod) else {
        return Err(Error::bad_input(
            "--nodes and --pod are required (or --study)",
        ));
    };
    let explained = orchsim_app::explain::explain(&ExplainRequest {
        nodes,
        at: args.at,
        pods: args.pods,
        pod,
        scheduler: args.scheduler,
        profile: args.profile,
        seed: args.seed.unwrap_or(0),
    })?;
    for n in &explained.notes {
        eprintln!("orchsim: note: {n}");
    }
    orchsim_app::render::print(&explained.view, args.format.into())
}
