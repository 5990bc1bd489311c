//! kcompile's integration tests: one crate, one process. Each module below was its own test
//! crate; now they link once and run as threads of one test binary (`cargo test --test suite`,
//! or `cargo test --test suite golden::` for one module).
//!
//! Tests run kcompile through the harness in `common` (`Test::new()...run()`, an isolated
//! environment, specs edited as YAML data, fixtures under `tests/cases/<name>/`). Because the
//! tests share a process, whatever they make that the system names (network namespaces, links,
//! mounts) carries a name unique to the test, not just to the process, and the tests that run
//! real clusters or playbooks take `common::heavy()` so that two of them never share the two
//! cores of a CI machine.

mod common;

mod addons;
mod adopt;
mod adopt_tutorial;
mod ansible;
mod bootstrap;
mod broken_specs;
mod cases;
mod certs;
mod checkov;
mod cli;
mod component_configs;
mod crash;
mod diff;
mod etcd_cluster;
mod etcd_membership;
mod flag_tables;
mod fuzz_specs;
mod golden;
mod hardening;
mod harness;
mod hostile_roots;
mod hostile_specs;
mod identical;
mod images;
mod layers;
mod ledger;
mod load_balancer;
mod membership;
mod mounts;
mod node;
mod owned_flags;
mod pki;
mod plan;
mod preflight;
mod provisioning;
mod redaction;
mod releases;
mod rotate;
mod scheduler;
mod schema;
mod sink;
mod spec_docs;
mod upgrade;
mod verify;
