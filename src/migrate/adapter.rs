//! Lets refinery's runner drive one of our connections, so that the
//! connection holding the run lock is the one applying migrations, in
//! strict mode and through the same lease as everything else.

use crate::db::value::Cells;
use crate::db::{sql, Lease};
use refinery::Migration;

/// Our leased connection, as refinery's async driver.
pub(crate) struct RefineryConn<'c>(pub(crate) &'c mut Lease);

impl refinery_core::traits::r#async::AsyncTransaction for RefineryConn<'_> {
    type Error = crate::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send + 'a>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        self.0.query_drop(sql::BEGIN).await?;
        let mut count = 0;
        for q in queries {
            if let Err(e) = self.0.query_drop(q).await {
                let _ = self.0.query_drop(sql::ROLLBACK).await;
                return Err(e);
            }
            count += 1;
        }
        self.0.query_drop(sql::COMMIT).await?;
        Ok(count)
    }
}

impl refinery_core::traits::r#async::AsyncQuery<Vec<Migration>> for RefineryConn<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        let rows = self.0.query_rows(query).await?;
        // The history was read and checked before refinery runs, so a row
        // it cannot use here means the table changed meanwhile: an error
        // naming the row, never a row left out (refinery would take its
        // migration for pending and run it again).
        rows.into_iter()
            .map(|row| {
                let mut c = Cells::new(row, sql::HISTORY_TABLE);
                let version: i32 = c.take(0, "version")?;
                c.name_row(format!("version {version}"));
                let name: String = c.take(1, "name")?;
                let applied_on: String = c.take(2, "applied_on")?;
                let checksum: String = c.take(3, "checksum")?;
                let applied_on = time::OffsetDateTime::parse(
                    &applied_on,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|_| {
                    c.invalid(
                        "applied_on",
                        &format!("the text {applied_on:?}, not an RFC 3339 time"),
                    )
                })?;
                let checksum = checksum.parse().map_err(|_| {
                    c.invalid("checksum", &format!("the text {checksum:?}, not a number"))
                })?;
                Ok(Migration::applied(version, name, applied_on, checksum))
            })
            .collect()
    }
}

impl refinery::AsyncMigrate for RefineryConn<'_> {}
