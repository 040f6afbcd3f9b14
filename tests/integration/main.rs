//! The integration tests, one binary: each module drives the `orchsim` command line (or
//! reads the workspace) for one area, with the helpers shared here.

mod architecture;
mod architectures;
mod cli;
mod control_planes;
mod explain;
mod fgd_atc23;
mod inputs;
mod live;
mod net;
mod outputs;
mod readme;
mod report_browser;
mod resume;
mod sweep;
mod traffic;

/// The `orchsim` binary cargo built for this test run.
pub fn orchsim() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("orchsim").expect("binary built by cargo test")
}
