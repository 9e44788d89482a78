//! What a bench run measured, as `locksmith bench --format json` prints it
//! and `scripts/bench` reads it, and the verdict of its end-of-run check.

use crate::error::{Kind, Result};
use serde::{Deserialize, Serialize};

/// What a bench run measured. `--format json` prints exactly this.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BenchReport {
    /// Workers.
    pub workers: usize,
    /// Locks held by others in the row during the run.
    pub held: usize,
    /// The workers' holders were registered with this lease (seconds), and
    /// renewed it while they held their locks; null: plain, unregistered.
    pub lease_seconds: Option<f64>,
    /// Seconds each phase ran.
    pub seconds: f64,
    /// Lock operations (acquires + releases) per second.
    pub ops_per_sec: f64,
    /// The INT ceiling: plain single-row `UPDATE … SET version=version+1`
    /// commits per second, same run and settings.
    pub ceiling_per_sec: f64,
    /// ops_per_sec / ceiling_per_sec (the ratio to the INT ceiling).
    pub ratio: f64,
    /// The row ceiling: blind same-size rewrites of the row's `dataJson`
    /// (the texts the lock operations produce, computed by the client) per
    /// second, same run and settings: the physical limit of this row
    /// format.
    pub row_ceiling_per_sec: f64,
    /// ops_per_sec / row_ceiling_per_sec (the ratio to the row ceiling).
    pub row_ratio: f64,
    /// Median acquire latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile acquire latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest acquire, milliseconds.
    pub max_ms: f64,
    /// CAS conflicts (retries) per operation.
    pub conflicts_per_op: f64,
    /// Operations that needed the read-then-CAS path, per operation.
    pub slow_path_per_op: f64,
    /// Operations that failed (must be 0).
    pub errors: u64,
    /// Statements refused for now and tried again (1213, 1205, 1047), per
    /// operation.
    pub retried_per_op: f64,
    /// How each node did (one entry per node of the URL).
    pub nodes: Vec<NodeReport>,
    /// The end-of-run check passed: no lock lost or left behind, no write lost.
    pub check_passed: bool,
    /// What the check found wrong, in words (empty when it passed).
    pub problems: Vec<String>,
}

/// How the lock workers on one node did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeReport {
    /// The node, `host:port`.
    pub node: String,
    /// Lock workers connected to it.
    pub workers: usize,
    /// Their lock operations per second.
    pub ops_per_sec: f64,
    /// Their statements refused for now (1213 and the like) per operation.
    pub retried_per_op: f64,
}

impl BenchReport {
    /// Fails unless the end-of-run check passed and no operation failed.
    pub fn check(&self) -> Result<()> {
        if self.check_passed && self.errors == 0 {
            Ok(())
        } else {
            Err(Kind::BenchFailed(format!(
                "{} failed operation(s); see the report",
                self.errors
            ))
            .into())
        }
    }
}
