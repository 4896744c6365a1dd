//! The one integration-test binary (matklad, "Delete Cargo Integration Tests"): every test
//! starts a real node on port 0 and talks to it over HTTP.

mod audit;
mod auth;
mod cli;
mod harness;
mod openapi;
mod operations;
mod records;
mod subjects;
mod transport;
