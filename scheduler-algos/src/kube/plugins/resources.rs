//! NodeResourcesFit (noderesources/fit.go, its scoring strategies) and
//! NodeResourcesBalancedAllocation (balanced_allocation.go).

use super::*;

/// NodeResourcesFit filter (fit.go `fitsRequest`): every insufficient resource is a reason.
pub(super) fn fit_filter(pod: &PodSpec, node: &NodeInfo) -> Result<(), Rejection> {
    let mut reasons = Reasons::default();
    if node.pods.len() as u64 + 1 > node.allocatable.pods {
        reasons.push("Too many pods");
    }
    let r = &pod.requests;
    let free = node.free();
    if r.cpu_milli > 0 && r.cpu_milli > free.cpu_milli {
        reasons.push("Insufficient cpu");
    }
    if r.memory_bytes > 0 && r.memory_bytes > free.memory_bytes {
        reasons.push("Insufficient memory");
    }
    if r.ephemeral_storage_bytes > 0 && r.ephemeral_storage_bytes > free.ephemeral_storage_bytes {
        reasons.push("Insufficient ephemeral-storage");
    }
    // nvidia.com/gpu is an extended resource upstream, counted in whole devices; fractional
    // requests share one device as the Open-Gpu-Share filter of the ATC'23 study allows. Both
    // are checked on the node's devices, not only on the sum (three 600-milli shares do not
    // fit on two GPUs).
    if r.gpu_milli > 0 {
        if let Some(m) = node.device_misfit(pod) {
            reasons.push(m.k8s_reason());
        }
    }
    for (name, q) in &pod.extended_requests {
        if *q == 0 {
            continue;
        }
        let alloc = node.extended_allocatable.get(name).copied().unwrap_or(0);
        let used = node.extended_requested.get(name).copied().unwrap_or(0);
        if *q > alloc.saturating_sub(used) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            plugin: Plugin::NodeResourcesFit,
            reasons,
            resolvable: true,
        })
    }
}

/// (allocatable, requested including the pod) for one resource, as resource_allocation.go
/// builds them. `non_zero` selects the scoring requests with defaults (Fit) or the raw ones
/// (BalancedAllocation). `(0, 0)` means "skip this resource".
pub(super) fn alloc_and_requested(
    res: &ResourceName,
    pod: &PodSpec,
    node: &NodeInfo,
    non_zero: bool,
) -> (i64, i64) {
    let a = &node.allocatable;
    let (alloc, used, want) = match res {
        ResourceName::Cpu => {
            if non_zero {
                (
                    a.cpu_milli,
                    node.non_zero_requested.cpu_milli,
                    pod.non_zero.cpu_milli,
                )
            } else {
                (
                    a.cpu_milli,
                    node.requested.cpu_milli,
                    pod.requests.cpu_milli,
                )
            }
        }
        ResourceName::Memory => {
            if non_zero {
                (
                    a.memory_bytes,
                    node.non_zero_requested.memory_bytes,
                    pod.non_zero.memory_bytes,
                )
            } else {
                (
                    a.memory_bytes,
                    node.requested.memory_bytes,
                    pod.requests.memory_bytes,
                )
            }
        }
        ResourceName::EphemeralStorage => (
            a.ephemeral_storage_bytes,
            node.requested.ephemeral_storage_bytes,
            pod.requests.ephemeral_storage_bytes,
        ),
        ResourceName::Gpu => {
            // A scalar resource the pod does not request is skipped.
            if pod.requests.gpu_milli == 0 {
                return (0, 0);
            }
            (
                a.gpu_milli,
                node.requested.gpu_milli,
                pod.requests.gpu_milli,
            )
        }
        ResourceName::Extended(name) => {
            let want = pod.extended_requests.get(name).copied().unwrap_or(0);
            if want == 0 {
                return (0, 0);
            }
            match node.extended_allocatable.get(name) {
                Some(alloc) => (
                    *alloc,
                    node.extended_requested.get(name).copied().unwrap_or(0),
                    want,
                ),
                None => return (0, 0),
            }
        }
    };
    (alloc as i64, used.saturating_add(want) as i64)
}

/// NodeResourcesFit score for one node.
pub fn fit_score(strategy: &FitStrategy, pod: &PodSpec, node: &NodeInfo) -> i64 {
    let mut node_score = 0i64;
    let mut weight_sum = 0i64;
    for (res, weight) in &strategy.resources {
        let (alloc, req) = alloc_and_requested(res, pod, node, true);
        if alloc == 0 {
            continue;
        }
        let s = match &strategy.kind {
            ScoringType::LeastAllocated => {
                if req > alloc {
                    0
                } else {
                    (alloc - req) * MAX_NODE_SCORE / alloc
                }
            }
            ScoringType::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
            ScoringType::RequestedToCapacityRatio { shape } => {
                let util = if req > alloc {
                    MAX_NODE_SCORE
                } else {
                    req * MAX_NODE_SCORE / alloc
                };
                let s = broken_linear(shape, util);
                // requested_to_capacity_ratio.go: only positive scores count toward the mean.
                if s > 0 {
                    node_score += s * weight;
                    weight_sum += weight;
                }
                continue;
            }
        };
        node_score += s * weight;
        weight_sum += weight;
    }
    if weight_sum == 0 {
        return 0;
    }
    match strategy.kind {
        ScoringType::RequestedToCapacityRatio { .. } => {
            // math.Round: half away from zero.
            (node_score as f64 / weight_sum as f64).round() as i64
        }
        _ => node_score / weight_sum,
    }
}

/// helper/shape_score.go `BuildBrokenLinearFunction`; shape scores already scaled to 0–100.
pub(super) fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for i in 0..shape.len() {
        if p <= shape[i].0 {
            if i == 0 {
                return shape[0].1;
            }
            let (u0, s0) = shape[i - 1];
            let (u1, s1) = shape[i];
            return s0 + (s1 - s0) * (p - u0) / (u1 - u0);
        }
    }
    shape.last().map_or(0, |s| s.1)
}

/// NodeResourcesBalancedAllocation score (balanced_allocation.go, v1.33 std-dev form).
pub fn balanced_score(resources: &[ResourceName], pod: &PodSpec, node: &NodeInfo) -> i64 {
    // Fractions are computed twice rather than collected: this runs once per node scored.
    let fraction = |res: &ResourceName| {
        let (alloc, req) = alloc_and_requested(res, pod, node, false);
        (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0))
    };
    let mut n = 0usize;
    let mut total = 0f64;
    let mut first = [0f64; 2];
    for f in resources.iter().filter_map(fraction) {
        if n < 2 {
            first[n] = f;
        }
        n += 1;
        total += f;
    }
    let std = match n {
        2 => ((first[0] - first[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = total / n as f64;
            let var = resources
                .iter()
                .filter_map(fraction)
                .map(|f| (f - mean) * (f - mean))
                .sum::<f64>()
                / n as f64;
            var.sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
