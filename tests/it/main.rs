//! Integration tests: the built `locksmith` binary against a real MariaDB
//! server (see `harness`). One test binary, so one server per run.

mod bad_inputs;
mod bench;
mod connect;
mod contest;
mod down_cuts;
mod faults;
mod galera;
mod harness;
mod hostile;
mod json;
mod library;
mod locks;
mod migrate;
mod proxy;
mod readme;
mod run;
mod states;
mod widths;
