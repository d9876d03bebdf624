//! The door: how many connections may be open, in total and per source
//! address.
//!
//! [`Admission::admit`] hands out a [`Ticket`] that gives the place back
//! when dropped, so a connection's slot is released however its task ends.
//! Loopback addresses are exempt from the per-address limit unless
//! `limit_loopback` is set: local tools, tests and benchmarks open many
//! connections from 127.0.0.1, and a remote attacker cannot use loopback.
//!
//! A `std::sync::Mutex` around the per-address map is right here: it is
//! taken once when a connection opens and once when it closes, for a hash
//! map update, never across `.await`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chinwag_proto::ErrorCode;

/// Connection limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Most connections open at once.
    pub max_total: usize,
    /// Most connections open at once from one IP address.
    pub max_per_ip: usize,
    /// Apply `max_per_ip` to loopback addresses too.
    pub limit_loopback: bool,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server is at `max_total`.
    Full { max: usize },
    /// This address is at `max_per_ip`.
    TooManyFromAddress { max: usize },
}

impl Refusal {
    pub fn code(self) -> ErrorCode {
        match self {
            Refusal::Full { .. } => ErrorCode::ServerBusy,
            Refusal::TooManyFromAddress { .. } => ErrorCode::TooManyConnections,
        }
    }

    pub fn message(self) -> String {
        match self {
            Refusal::Full { max } => {
                format!("the server is at its limit of {max} connections; try again later")
            }
            Refusal::TooManyFromAddress { max } => {
                format!("your address already has {max} connections open, the most allowed")
            }
        }
    }
}

/// Counts open connections, in total and per address.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A place taken by one open connection; dropping it frees the place.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    /// The counted address, `None` when exempt from the per-address limit.
    ip: Option<IpAddr>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a place for a connection from `ip`, if the limits allow.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let max = self.limits.max_total;
        self.total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Refusal::Full { max })?;
        let ip = ip.to_canonical();
        let counted = !ip.is_loopback() || self.limits.limit_loopback;
        if counted {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let open = per_ip.entry(ip).or_insert(0);
            if *open >= self.limits.max_per_ip {
                if *open == 0 {
                    per_ip.remove(&ip);
                }
                drop(per_ip);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::TooManyFromAddress {
                    max: self.limits.max_per_ip,
                });
            }
            *open += 1;
        }
        Ok(Ticket {
            admission: Arc::clone(self),
            ip: counted.then_some(ip),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Connections open now from `ip` (0 for an exempt address).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        per_ip.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut per_ip = self
                .admission
                .per_ip
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = per_ip.get_mut(&ip) {
                *open -= 1;
                if *open == 0 {
                    // Forget the address: the map only holds addresses
                    // with open connections, so it cannot grow without
                    // bound.
                    per_ip.remove(&ip);
                }
            }
        }
        self.admission.total.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn limits_per_address_and_in_total() {
        let admission = Admission::new(AdmissionLimits {
            max_total: 3,
            max_per_ip: 2,
            limit_loopback: false,
        });
        let a1 = admission.admit(ip("10.0.0.1")).unwrap();
        let _a2 = admission.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            admission.admit(ip("10.0.0.1")).unwrap_err(),
            Refusal::TooManyFromAddress { max: 2 }
        );
        assert_eq!(admission.open(), 2, "a refusal gives its place back");
        let _b = admission.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            admission.admit(ip("10.0.0.3")).unwrap_err(),
            Refusal::Full { max: 3 }
        );
        drop(a1);
        assert_eq!(admission.open_from(ip("10.0.0.1")), 1);
        let _a3 = admission.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(admission.open(), 3);
    }

    #[test]
    fn loopback_is_exempt_unless_limited_and_mapped_addresses_count_once() {
        let exempt = Admission::new(AdmissionLimits {
            max_total: 100,
            max_per_ip: 1,
            limit_loopback: false,
        });
        let tickets: Vec<_> = (0..5)
            .map(|_| exempt.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(exempt.open(), 5);
        drop(tickets);
        assert_eq!(exempt.open(), 0);

        let limited = Admission::new(AdmissionLimits {
            max_total: 100,
            max_per_ip: 1,
            limit_loopback: true,
        });
        let _t = limited.admit(ip("127.0.0.1")).unwrap();
        assert!(limited.admit(ip("127.0.0.1")).is_err());
        let _v4 = limited.admit(ip("192.0.2.1")).unwrap();
        assert!(
            limited.admit(ip("::ffff:192.0.2.1")).is_err(),
            "an IPv4-mapped IPv6 address is the same address"
        );
    }

    #[test]
    fn forgets_addresses_without_connections() {
        let admission = Admission::new(AdmissionLimits {
            max_total: 10,
            max_per_ip: 10,
            limit_loopback: true,
        });
        drop(admission.admit(ip("10.0.0.9")).unwrap());
        assert!(admission.per_ip.lock().unwrap().is_empty());
    }
}
