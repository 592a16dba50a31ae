//! Resource vectors: what a job asks for and what a node offers.

use serde::{Deserialize, Serialize};

/// A quantity of CPUs, GPUs and memory. Used both for what a node has and
/// for what a job (or one of its nodes) needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    /// Processor cores (SWF "processors").
    pub cpus: u32,
    /// Whole GPUs.
    pub gpus: u32,
    /// Memory in MiB.
    pub mem_mb: u64,
}

impl Resources {
    /// A vector with the given CPUs, GPUs and memory.
    pub const fn new(cpus: u32, gpus: u32, mem_mb: u64) -> Self {
        Self { cpus, gpus, mem_mb }
    }

    /// True when every component of `self` fits in `other`.
    pub fn fits_in(&self, other: &Resources) -> bool {
        self.cpus <= other.cpus && self.gpus <= other.gpus && self.mem_mb <= other.mem_mb
    }

    /// Component-wise sum, saturating at the type's maximum.
    pub fn saturating_add(&self, other: &Resources) -> Resources {
        Resources {
            cpus: self.cpus.saturating_add(other.cpus),
            gpus: self.gpus.saturating_add(other.gpus),
            mem_mb: self.mem_mb.saturating_add(other.mem_mb),
        }
    }

    /// Component-wise difference, `None` if any component would go negative.
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        Some(Resources {
            cpus: self.cpus.checked_sub(other.cpus)?,
            gpus: self.gpus.checked_sub(other.gpus)?,
            mem_mb: self.mem_mb.checked_sub(other.mem_mb)?,
        })
    }

    /// Component-wise difference, clamped at zero.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            cpus: self.cpus.saturating_sub(other.cpus),
            gpus: self.gpus.saturating_sub(other.gpus),
            mem_mb: self.mem_mb.saturating_sub(other.mem_mb),
        }
    }

    /// `*self = v`, field by field. The hot loops over slots use it: there a
    /// whole-struct assignment was compiled to a copy through the stack read
    /// back as one 16-byte word, a store-forwarding stall on every slot
    /// started or freed (about a tenth of a KTH-SP2 replay's wall time).
    #[inline(always)]
    pub(crate) fn assign(&mut self, v: Resources) {
        self.cpus = v.cpus;
        self.gpus = v.gpus;
        self.mem_mb = v.mem_mb;
    }

    /// True when every component is zero.
    #[inline]
    pub fn is_zero(&self) -> bool {
        // component by component, so that a value just computed in
        // registers is tested there (comparing whole structs made the
        // compiler store it and load it back as one 16-byte word, a
        // store-forwarding stall on every slot freed)
        (u64::from(self.cpus | self.gpus) | self.mem_mb) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_and_subtracts_component_wise() {
        let node = Resources::new(8, 2, 1024);
        let job = Resources::new(4, 2, 512);
        assert!(job.fits_in(&node));
        assert_eq!(node.checked_sub(&job), Some(Resources::new(4, 0, 512)));
        assert_eq!(job.checked_sub(&node), None);
        assert!(!Resources::new(1, 3, 0).fits_in(&node));
        assert_eq!(job.saturating_add(&job), Resources::new(8, 4, 1024));
    }
}
