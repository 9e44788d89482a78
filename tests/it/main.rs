//! Integration tests: the built `locksmith` binary against a real MariaDB
//! server (see `harness`). One test binary, so one server per run.

mod bad_inputs;
mod bench;
mod connect;
mod contest;
mod down_cuts;
mod drift;
mod exact;
mod failover;
mod faults;
mod files;
mod galera;
mod harness;
mod hostile;
mod json;
mod library;
mod liveness;
mod locks;
mod migrate;
mod migration_files;
mod privileges;
mod proxy;
mod quarantine;
mod readme;
mod reports;
mod room;
mod run;
mod secrets;
mod server_noise;
mod states;
mod strict;
mod supervise;
mod tls_files;
mod tls_pki;
mod widths;
