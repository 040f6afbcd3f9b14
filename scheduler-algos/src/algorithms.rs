//! The algorithm catalog: every scheduler selectable by name.

use std::fmt;

use crate::binpack::{BestFit, DotProduct, FirstFit, WorstFit};
use crate::gpu::policy::{GpuScheduler, Policy};
use crate::kube::{KubeScheduler, Profile};
use crate::mesos::placement::MarathonScheduler;
use crate::model::Scheduler;
use crate::swarm::SwarmScheduler;

/// Names accepted by [`by_name`], in the order they are listed to users.
pub const ALGORITHMS: &[&str] = &[
    "first-fit",
    "best-fit",
    "worst-fit",
    "dot-product",
    "kubernetes",
    "swarm",
    "marathon",
    "fgd",
    "gpu-packing",
    "gpu-clustering",
    "gpu-best-fit",
    "gpu-dot-product",
    "gpu-random",
];

/// An algorithm name that is not in [`ALGORITHMS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scheduling algorithm `{}`; valid algorithms: {}",
            self.0,
            ALGORITHMS.join(", ")
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

/// Builds the algorithm called `name`. `seed` feeds algorithms that break ties randomly;
/// `kubernetes` gets the default profile (use [`KubeScheduler::new`] for another). The GPU
/// policies of the ATC'23 study learn the workload FGD measures fragmentation against from the
/// pods they are asked to place (use [`GpuScheduler::new`] to give it up front, as the study
/// does).
pub fn by_name(name: &str, seed: u64) -> Result<Box<dyn Scheduler + Send>, UnknownAlgorithm> {
    Ok(match name {
        "first-fit" => Box::new(FirstFit),
        "best-fit" => Box::new(BestFit),
        "worst-fit" => Box::new(WorstFit),
        "dot-product" => Box::new(DotProduct),
        "kubernetes" => Box::new(KubeScheduler::new(Profile::default(), seed)),
        "swarm" => Box::new(SwarmScheduler::new(seed)),
        "marathon" => Box::new(MarathonScheduler::new(seed)),
        gpu if gpu == "fgd" || gpu.starts_with("gpu-") => match Policy::parse(gpu) {
            Ok(p) if p.algorithm_name() == gpu => Box::new(GpuScheduler::learning(p, seed)),
            _ => return Err(UnknownAlgorithm(gpu.to_string())),
        },
        other => return Err(UnknownAlgorithm(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_builds_and_unknown_names_list_them() {
        for name in ALGORITHMS {
            assert_eq!(by_name(name, 1).unwrap().name(), *name);
        }
        let err = by_name("best-fti", 0).err().expect("must fail");
        assert_eq!(
            err.to_string(),
            "unknown scheduling algorithm `best-fti`; valid algorithms: first-fit, best-fit, \
             worst-fit, dot-product, kubernetes, swarm, marathon, fgd, gpu-packing, gpu-clustering, \
             gpu-best-fit, gpu-dot-product, gpu-random"
        );
    }
}
