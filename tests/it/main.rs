//! The one integration-test binary (matklad, "Delete Cargo Integration Tests"): every test
//! starts a real node on port 0 and talks to it over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking; helpers outside #[test] functions included"
)]

mod audit;
mod auth;
mod cli;
mod federation;
mod federation_discard;
mod federation_faults;
mod gateway;
mod harness;
mod journal;
mod lists;
mod matching;
mod openapi;
mod operations;
mod records;
mod stats;
mod subjects;
mod transport;
mod webhooks;
