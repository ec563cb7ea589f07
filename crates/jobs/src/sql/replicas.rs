//! The service replicas sharing the catalogue: each says it lives every few seconds; what one
//! runs is read from the jobs' leases.

use std::collections::HashMap;

use super::Catalog;
use crate::job_catalog::ReplicaCatalog;
use crate::lease::Holder;
use crate::records::{CatalogError, ReplicaRecord, Status};
use crate::timestamp::Timestamp;

/// How long a replica not seen stays on record.
const FORGOTTEN_AFTER: time::Duration = time::Duration::days(1);

#[async_trait::async_trait]
impl ReplicaCatalog for Catalog {
    async fn replica_alive(&self, version: &str) -> Result<(), CatalogError> {
        let me = Holder::this_process();
        let now = Timestamp::now();
        let mut tx = self.pool().begin().await.map_err(|e| self.error(e))?;
        sqlx::query(
            "INSERT INTO replicas (id, host, pid, version, started_at, last_seen)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(&me.id)
        .bind(&me.host)
        .bind(me.pid)
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query("DELETE FROM replicas WHERE last_seen < $1")
            .bind(Timestamp::from(now.time() - FORGOTTEN_AFTER))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn replica_stopped(&self) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(&Holder::this_process().id)
            .execute(self.pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn replicas(&self) -> Result<Vec<ReplicaRecord>, CatalogError> {
        let mut replicas: Vec<ReplicaRecord> =
            sqlx::query_as("SELECT * FROM replicas ORDER BY started_at, id")
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.error(e))?;
        let held: Vec<(String, String)> = sqlx::query_as(
            "SELECT lease_holder, id FROM jobs
             WHERE lease_holder IS NOT NULL AND status = $1 ORDER BY id",
        )
        .bind(Status::Running)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        let mut by_holder: HashMap<String, Vec<String>> = HashMap::new();
        for (holder, job) in held {
            by_holder.entry(holder).or_default().push(job);
        }
        for replica in &mut replicas {
            replica.jobs = by_holder.remove(&replica.id).unwrap_or_default();
        }
        Ok(replicas)
    }
}
