//! Federation: the node-to-node protocol. This module alone knows it: the upward journal's
//! event format and signatures, the federation PKI and how a peer's region is read from its
//! certificate.

pub mod identity;
pub mod journal;
pub mod lists;
pub mod outbox;
pub mod pki;
pub mod wire;
