//! A Rust service taking a lock the same way `locksmith locks run` does.
//!
//! ```sh
//! DATABASE_URL=mysql://user:pass@127.0.0.1:3306/app cargo run --example guard
//! ```
//!
//! It waits up to 10 s for the `backup` lock in row `platform` (and for no
//! `update` to be running), does its work, and releases the lock explicitly.

use locksmith::{AcquireOptions, DbUrl, LockTable};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = DbUrl::from_arg(std::env::var("DATABASE_URL").ok().as_deref())?;
    let table = LockTable::connect(&url).await?;
    let holder = format!("guard-example:{}", std::process::id());
    let opts = AcquireOptions {
        wait: Some(Duration::from_secs(10)),
        unless_held: vec![glob::Pattern::new("update")?],
        ..AcquireOptions::default()
    };
    let guard = table
        .lock("platform", "backup", &holder, &opts, |why| {
            eprintln!("waiting: {why}");
        })
        .await?;
    println!(
        "holding `{}` in `{}` as {}",
        guard.name(),
        guard.row(),
        guard.holder()
    );

    // ... the work goes here. If this process dies now, the lock stays held
    // under `holder`; `locksmith locks force-release platform --holder H`
    // (or `LockTable::release_by_holder`) cleans it up.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Release explicitly: dropping the guard would leave the lock held.
    guard.release().await?;
    println!("released");
    table.disconnect().await?;
    Ok(())
}
