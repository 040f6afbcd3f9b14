//! `orchsim fit`: its arguments and printing; the work is `orchsim_app::fit`.

use std::path::PathBuf;

use clap::Args;
use orchsim_app::fit::FitRequest;
use orchsim_app::Error;

use crate::Format;

#[derive(Args)]
pub struct FitArgs {
    /// The cluster: Kubernetes YAML (`kubectl get nodes -o yaml`, a List or a multi-document
    /// stream), or a scenario (a TOML file or an embedded name): its hosts as it starts.
    #[arg(long)]
    nodes: PathBuf,
    /// Pods already running (`kubectl get pods -A -o yaml`): bound by `spec.nodeName`.
    #[arg(long)]
    pods: Option<PathBuf>,
    /// The application: Kubernetes manifests (Deployment, ReplicaSet, StatefulSet,
    /// DaemonSet, Job, CronJob, Pod), files or directories of *.yaml. Repeatable. Other kinds
    /// are listed and skipped.
    #[arg(long, required = true)]
    manifests: Vec<PathBuf>,
    /// kubernetes, swarm, or a bin-packing algorithm.
    #[arg(long, default_value = "kubernetes")]
    scheduler: String,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) for `kubernetes`.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Seed of the tie-breaking stream.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Exit status 1 when something does not fit: a CI gate.
pub fn run(args: FitArgs) -> Result<u8, Error> {
    let fitted = orchsim_app::fit::fit(&FitRequest {
        nodes: args.nodes,
        pods: args.pods,
        manifests: args.manifests,
        scheduler: args.scheduler,
        profile: args.profile,
        seed: args.seed,
    })?;
    for n in &fitted.notes {
        eprintln!("orchsim: note: {n}");
    }
    orchsim_app::render::print(&fitted.view, args.format.into())?;
    Ok(if fitted.fit.fits {
        0
    } else {
        crate::exit::CHECK_FAILED
    })
}
