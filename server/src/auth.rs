//! Bearer tokens: a secret a client sends as `authorization: Bearer
//! SECRET`, kept in the store only as its SHA-256, mapping to a tenant and
//! a [`Role`].

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Submits, reads, watches and cancels its tenant's jobs.
    Submitter,
    /// Leases jobs of any tenant and reports on them.
    Worker,
    /// Reads, cancels, requeues and purges every tenant's jobs.
    Operator,
    /// Everything, including submitting for another tenant.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Submitter, Role::Worker, Role::Operator, Role::Admin];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Worker => "worker",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True when it sees every tenant's jobs.
    pub fn sees_all(self) -> bool {
        matches!(self, Role::Operator | Role::Admin)
    }
}

/// Who a request comes from: its token's tenant and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant.
    pub tenant: String,
    /// The role.
    pub role: Role,
}

impl Caller {
    /// The audit table's view of it.
    pub fn actor(&self) -> crate::store::Actor {
        crate::store::Actor { tenant: self.tenant.clone(), role: self.role.as_str().to_string() }
    }

    /// True when it may see and act on `tenant`'s jobs.
    pub fn may_see(&self, tenant: &str) -> bool {
        self.role.sees_all() || (self.role == Role::Submitter && self.tenant == tenant)
    }
}

/// The SHA-256 of a token's secret, in hex: what the store keeps.
pub fn hash_token(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: 32 bytes from the operating system's generator, in hex.
pub fn new_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let s = new_secret().unwrap();
        assert_eq!(s.len(), 64);
        assert_ne!(s, new_secret().unwrap());
    }

    #[test]
    fn a_submitter_sees_its_own_tenant_only() {
        let c = Caller { tenant: "a".into(), role: Role::Submitter };
        assert!(c.may_see("a") && !c.may_see("b"));
        let w = Caller { tenant: "a".into(), role: Role::Worker };
        assert!(!w.may_see("a"));
        assert!(Caller { tenant: "x".into(), role: Role::Operator }.may_see("b"));
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
