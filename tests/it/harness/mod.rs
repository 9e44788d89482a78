//! The test harness: one real MariaDB server per test run, one database per
//! test, and a runner for the built `locksmith` binary.
//!
//! Servers are started the one way the project starts them, by
//! `scripts/throwaway-mariadb` (data in a temp dir, free loopback ports,
//! stopped and removed when this process exits, even if it is killed). With
//! `LOCKSMITH_TEST_DATABASE_URL` set (an account that may create databases
//! and users), the shared server is that one instead.
//!
//! Either way, the tests connect as an account of their own with a fresh
//! random password, allowed only on this run's databases. When this process
//! ends, however it ends, a reaper (this test binary, re-run in a special
//! mode) drops that account and every database of the run.
//!
//! By job: `account` (the shared server, the run's account, the reaper),
//! `server` (servers of a test's own), `db` (a database per test), `run`
//! (running `locksmith`, waiting on conditions), `checks` (what a run
//! printed, checked whole), `tmux` (a terminal for full-screen commands).

#![allow(dead_code)]

mod account;
mod checks;
mod db;
mod run;
mod server;
mod tmux;
pub use account::*;
pub use checks::*;
pub use db::*;
pub use run::*;
pub use server::*;
pub use tmux::*;

use mysql_async::prelude::Queryable;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Runs a future to completion on a fresh single-thread runtime.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
