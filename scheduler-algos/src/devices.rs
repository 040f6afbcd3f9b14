//! Devices on a node (GPUs today) and what a pod asks of them: per-device accounting, the
//! default device choice, and the overcommit check every bind goes through.
//!
//! A node's GPUs are a [`DeviceSet`]: `allocatable.gpu_milli / 1000` devices of one model,
//! each of [`MILLI_PER_GPU`] milli-units. A pod's `requests.gpu_milli` *is* its device
//! request, read as a [`GpuDemand`]: below 1000 a share of one device (shared with other
//! pods, as Alibaba's GPU-sharing clusters and the Open-Gpu-Share plugin of the ATC'23 study
//! do), a multiple of 1000 that many whole devices (Kubernetes' `nvidia.com/gpu: k`), anything
//! else is refused by [`GpuDemand::from_milli`]. Deriving the demand from the request keeps
//! the scalar and the devices from ever disagreeing.
//!
//! Every scheduler family filters on [`crate::NodeInfo::fit_devices`] and returns the devices
//! it chose in [`crate::Decision::Bind`]; [`crate::Cluster::bind`] re-checks them, so no
//! device is ever given more than 1000 milli and departures free exactly what was taken.

use std::fmt;

/// Milli-units in one device.
pub const MILLI_PER_GPU: u32 = 1000;

/// Most devices one node may have (GPU servers ship with at most 8 or 16; the fragmentation
/// memo packs a node's devices into a fixed array of this size).
pub const MAX_DEVICES: usize = 16;

/// What a pod asks of GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GpuDemand {
    /// No GPU.
    None,
    /// This many milli-GPU (1..=999) of one device, shared with other pods.
    Shared(u32),
    /// This many whole devices (≥ 1).
    Whole(u32),
}

/// A GPU request that is neither none, a fraction of one device, nor whole devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemandError(pub String);

impl fmt::Display for DemandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemandError {}

impl GpuDemand {
    /// The demand of `count` devices at `milli_per_gpu` each, as traces write it.
    pub fn new(count: u32, milli_per_gpu: u32) -> Result<Self, DemandError> {
        match (count, milli_per_gpu) {
            (0, _) => Ok(GpuDemand::None),
            (_, 0) => Err(DemandError(format!(
                "{count} GPU(s) at 0 milli-GPU each: a GPU request needs 1..=1000 milli-GPU per device"
            ))),
            (_, m) if m > MILLI_PER_GPU => Err(DemandError(format!(
                "{m} milli-GPU per device is more than one device ({MILLI_PER_GPU})"
            ))),
            (1, m) if m < MILLI_PER_GPU => Ok(GpuDemand::Shared(m)),
            (k, MILLI_PER_GPU) => Ok(GpuDemand::Whole(k)),
            (k, m) => Err(DemandError(format!(
                "{k} GPUs at {m} milli-GPU each: only one device can be shared; \
                 multi-GPU requests take whole devices (1000)"
            ))),
        }
    }

    /// The demand a total of `milli` milli-GPU stands for: a share of one device below
    /// 1000, whole devices for a multiple of 1000.
    pub fn from_milli(milli: u64) -> Result<Self, DemandError> {
        let per = u64::from(MILLI_PER_GPU);
        if milli < per {
            return GpuDemand::new(u32::from(milli > 0), milli as u32);
        }
        if !milli.is_multiple_of(per) {
            return Err(DemandError(format!(
                "{milli} milli-GPU is neither a share of one device (1..=999) nor whole \
                 devices (a multiple of 1000)"
            )));
        }
        let k = u32::try_from(milli / per)
            .map_err(|_| DemandError(format!("{milli} milli-GPU is too many devices")))?;
        Ok(GpuDemand::Whole(k))
    }

    /// Devices touched.
    pub fn count(self) -> u32 {
        match self {
            GpuDemand::None => 0,
            GpuDemand::Shared(_) => 1,
            GpuDemand::Whole(k) => k,
        }
    }

    /// Milli-GPU taken on each device touched.
    pub fn milli_per_gpu(self) -> u32 {
        match self {
            GpuDemand::None => 0,
            GpuDemand::Shared(m) => m,
            GpuDemand::Whole(_) => MILLI_PER_GPU,
        }
    }

    /// Milli-GPU in all.
    pub fn total_milli(self) -> u64 {
        u64::from(self.count()) * u64::from(self.milli_per_gpu())
    }

    /// The ATC'23 study's task class (GpuClustering packs a class together): shares form one
    /// class, whole-GPU requests one per device count.
    pub fn class(self) -> Option<u32> {
        match self {
            GpuDemand::None => None,
            GpuDemand::Shared(_) => Some(0),
            GpuDemand::Whole(k) => Some(k),
        }
    }
}

/// The GPUs of one node: their model and the milli-units taken on each. The number of
/// devices is the node's `allocatable.gpu_milli / 1000` (see [`crate::NodeInfo::gpu_count`]);
/// devices past the end of `used` have nothing on them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSet {
    /// The GPU model (`gpu_spec` in Alibaba's trace, e.g. `V100M32`); `None` if unnamed.
    pub model: Option<String>,
    used: Vec<u32>,
}

impl DeviceSet {
    /// A set of devices of `model`.
    pub fn of_model(model: impl Into<String>) -> Self {
        DeviceSet {
            model: Some(model.into()),
            used: Vec::new(),
        }
    }

    /// Milli-units taken on device `d`.
    pub fn used(&self, d: usize) -> u32 {
        self.used.get(d).copied().unwrap_or(0)
    }

    /// Of `count` devices: how many are entirely free, and the most free on any one.
    pub fn whole_and_largest(&self, count: usize) -> (usize, u32) {
        let tracked = &self.used[..self.used.len().min(count)];
        let busy = tracked.iter().filter(|&&u| u > 0).count();
        let least_used = if tracked.len() < count {
            0
        } else {
            tracked.iter().copied().min().unwrap_or(MILLI_PER_GPU)
        };
        (count - busy, MILLI_PER_GPU.saturating_sub(least_used))
    }

    /// Free milli-units over `count` devices.
    pub fn free_total(&self, count: usize) -> u64 {
        let used: u64 = self.used[..self.used.len().min(count)]
            .iter()
            .map(|&u| u64::from(u.min(MILLI_PER_GPU)))
            .sum();
        count as u64 * u64::from(MILLI_PER_GPU) - used
    }

    pub(crate) fn take(&mut self, devices: &[u8], milli: u32) {
        for &d in devices {
            let d = d as usize;
            if self.used.len() <= d {
                self.used.resize(d + 1, 0);
            }
            self.used[d] += milli;
        }
    }

    pub(crate) fn give_back(&mut self, devices: &[u8], milli: u32) {
        for &d in devices {
            if let Some(u) = self.used.get_mut(d as usize) {
                *u = u.saturating_sub(milli);
            }
        }
    }
}

/// Why a pod's GPU demand cannot be met on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceMisfit {
    /// The request is not a valid demand (see [`GpuDemand::from_milli`]).
    Invalid(DemandError),
    NoGpus,
    /// The node's GPU model is not one the pod accepts.
    Model,
    /// Fewer than the requested whole devices are free.
    WholeDevices {
        free: usize,
    },
    /// No device has the shared amount free.
    SharedDevice {
        largest: u32,
    },
}

impl DeviceMisfit {
    /// The reason without node-specific amounts, for counting nodes per reason.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceMisfit::Invalid(_) => "invalid GPU request",
            DeviceMisfit::NoGpus => "node has no GPUs",
            DeviceMisfit::Model => "GPU model not accepted",
            DeviceMisfit::WholeDevices { .. } => "not enough whole GPUs free",
            DeviceMisfit::SharedDevice { .. } => "no GPU with enough free",
        }
    }

    /// kube-scheduler's wording: a device shortage is `Insufficient nvidia.com/gpu`, as the
    /// extended resource's NodeResourcesFit check says; a model the pod refuses is a
    /// node-selector mismatch (GPU models are chosen by node labels upstream).
    pub fn k8s_reason(&self) -> &'static str {
        match self {
            DeviceMisfit::Model => "node(s) didn't match the pod's GPU models",
            DeviceMisfit::Invalid(_) => "invalid nvidia.com/gpu request",
            _ => "Insufficient nvidia.com/gpu",
        }
    }
}

impl fmt::Display for DeviceMisfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceMisfit::Invalid(e) => e.fmt(f),
            DeviceMisfit::NoGpus => f.write_str("node has no GPUs"),
            DeviceMisfit::Model => f.write_str("GPU model not accepted by the pod"),
            DeviceMisfit::WholeDevices { free } => write!(f, "only {free} whole GPU(s) free"),
            DeviceMisfit::SharedDevice { largest } => {
                write!(f, "no GPU has enough free (largest free {largest} milli)")
            }
        }
    }
}

/// A bind the cluster refuses because it would overcommit a node or a device: a bug in the
/// caller (a scheduler that chose wrongly, or a stale decision committed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overcommit(pub String);

impl fmt::Display for Overcommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "placement would overcommit: {}", self.0)
    }
}

impl std::error::Error for Overcommit {}

/// Whether a pod restricted to `models` (empty: any) accepts devices of `model`. A pod that
/// names models never accepts a node whose GPUs have no model name (the study's rule).
pub fn accepts_model(models: &[String], model: Option<&str>) -> bool {
    models.is_empty() || model.is_some_and(|m| models.iter().any(|x| x == m))
}

/// The first `k` fully free devices in index order (`AllocateExclusiveGpuId` of the study's
/// Open-Gpu-Share plugin; the device plugin's default order for whole GPUs).
pub fn first_free(free: &[u32], k: u32) -> Vec<u8> {
    free.iter()
        .enumerate()
        .filter(|(_, &f)| f == MILLI_PER_GPU)
        .take(k as usize)
        .map(|(d, _)| d as u8)
        .collect()
}

/// The device with the least free that still fits `m`, first among equals
/// (`allocateGpuIdBasedOnBestFit`, Open-Gpu-Share's default for shared requests).
pub fn tightest(free: &[u32], m: u32) -> Option<u8> {
    let mut best: Option<usize> = None;
    for (d, &f) in free.iter().enumerate() {
        if f >= m && best.is_none_or(|b| f < free[b]) {
            best = Some(d);
        }
    }
    best.map(|d| d as u8)
}

/// Whether `demand` can be met on devices with `free` milli each (`Ok` with the default
/// choice: [`first_free`] for whole devices, [`tightest`] for a share).
pub fn default_choice(demand: GpuDemand, free: &[u32]) -> Result<Vec<u8>, DeviceMisfit> {
    match demand {
        GpuDemand::None => Ok(Vec::new()),
        _ if free.is_empty() => Err(DeviceMisfit::NoGpus),
        GpuDemand::Whole(k) => {
            let devices = first_free(free, k);
            if devices.len() < k as usize {
                Err(DeviceMisfit::WholeDevices {
                    free: devices.len(),
                })
            } else {
                Ok(devices)
            }
        }
        GpuDemand::Shared(m) => {
            tightest(free, m)
                .map(|d| vec![d])
                .ok_or_else(|| DeviceMisfit::SharedDevice {
                    largest: free.iter().copied().max().unwrap_or(0),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demands_follow_the_trace_columns_and_the_scalar_request() {
        assert_eq!(GpuDemand::new(0, 0), Ok(GpuDemand::None));
        assert_eq!(GpuDemand::new(1, 460), Ok(GpuDemand::Shared(460)));
        assert_eq!(GpuDemand::new(1, 1000), Ok(GpuDemand::Whole(1)));
        assert!(GpuDemand::new(2, 500).is_err());
        assert!(GpuDemand::new(1, 1001).is_err());
        assert_eq!(GpuDemand::from_milli(0), Ok(GpuDemand::None));
        assert_eq!(GpuDemand::from_milli(600), Ok(GpuDemand::Shared(600)));
        assert_eq!(GpuDemand::from_milli(3000), Ok(GpuDemand::Whole(3)));
        assert!(GpuDemand::from_milli(1500).is_err());
        assert_eq!(GpuDemand::Whole(4).total_milli(), 4000);
    }

    #[test]
    fn default_choice_packs_shares_and_takes_whole_devices_in_order() {
        // Shares go to the tightest device that fits, first among equals.
        assert_eq!(
            default_choice(GpuDemand::Shared(300), &[1000, 400, 400]),
            Ok(vec![1])
        );
        assert_eq!(
            default_choice(GpuDemand::Shared(600), &[400, 400]),
            Err(DeviceMisfit::SharedDevice { largest: 400 })
        );
        // Whole devices must be entirely free: a half-used device does not count.
        assert_eq!(
            default_choice(GpuDemand::Whole(2), &[1000, 500, 1000]),
            Ok(vec![0, 2])
        );
        assert_eq!(
            default_choice(GpuDemand::Whole(2), &[1000, 500]),
            Err(DeviceMisfit::WholeDevices { free: 1 })
        );
        assert_eq!(
            default_choice(GpuDemand::Whole(1), &[]),
            Err(DeviceMisfit::NoGpus)
        );
    }

    #[test]
    fn model_rule() {
        assert!(accepts_model(&[], None));
        assert!(!accepts_model(&["A".into()], None));
        assert!(accepts_model(&["A".into(), "B".into()], Some("B")));
        assert!(!accepts_model(&["A".into()], Some("B")));
    }
}
