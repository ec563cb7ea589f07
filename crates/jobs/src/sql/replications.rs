//! Replications in the catalogue: their settings and counters, the lease of the one process
//! reading each one's queue, what each wrote at its destination (the guard of its deletions),
//! and its failures. How a round runs is the service's business; this module keeps the
//! records and their rules (a round is recorded whole, and only by the lease holder).

use sqlx::FromRow;
use std::collections::HashMap;

use super::recorder::ROWS_PER_STATEMENT;
use super::stored_text::message;
use super::{lease_end, Catalog};
use crate::job_catalog::ReplicationCatalog;
use crate::lease::Holder;
use crate::records::{CatalogError, NewReplication, Replication, ReplicationRound, WrittenObject};
use crate::timestamp::Timestamp;

#[async_trait::async_trait]
impl ReplicationCatalog for Catalog {
    async fn create_replication(&self, new: NewReplication) -> Result<Replication, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO replications (id, user_name, name, spec, queue, deletions, enabled,
             reconcile_secs, schedule_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(&new.user)
        .bind(&new.name)
        .bind(new.spec.to_string())
        .bind(&new.queue)
        .bind(i64::from(new.deletions))
        .bind(i64::from(new.enabled))
        .bind(new.reconcile_secs)
        .bind(&new.schedule_id)
        .bind(Timestamp::now())
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        self.replication(&id).await
    }

    async fn replication(&self, id: &str) -> Result<Replication, CatalogError> {
        let row = sqlx::query("SELECT * FROM replications WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.error(e))?;
        match row {
            Some(row) => Replication::from_row(&row).map_err(|e| self.error(e)),
            None => Err(CatalogError::NotFound(id.to_owned())),
        }
    }

    async fn replications(&self, user: Option<&str>) -> Result<Vec<Replication>, CatalogError> {
        let rows = sqlx::query(
            "SELECT * FROM replications WHERE ($1 IS NULL OR user_name = $1)
             ORDER BY created_at, id",
        )
        .bind(user)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        rows.iter()
            .map(Replication::from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    async fn update_replication(
        &self,
        replication: &Replication,
    ) -> Result<Replication, CatalogError> {
        let done = sqlx::query(
            "UPDATE replications SET name = $1, enabled = $2, deletions = $3,
             error = CASE WHEN $2 = 1 THEN error ELSE NULL END WHERE id = $4",
        )
        .bind(&replication.name)
        .bind(i64::from(replication.enabled))
        .bind(i64::from(replication.deletions))
        .bind(&replication.id)
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound(replication.id.clone()));
        }
        self.replication(&replication.id).await
    }

    async fn delete_replication(&self, id: &str) -> Result<(), CatalogError> {
        let mut tx = self.pool().begin().await.map_err(|e| self.error(e))?;
        for table in ["replication_objects", "replication_failures"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE replication_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        sqlx::query("DELETE FROM replications WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn claim_replication(&self, id: &str) -> Result<bool, CatalogError> {
        let current = self.replication(id).await?;
        let me = Holder::this_process();
        let held_elsewhere = current
            .lease()
            .is_some_and(|lease| lease.holder.as_deref() != Some(&me.id) && lease.is_alive());
        if held_elsewhere || !current.enabled {
            return Ok(false);
        }
        // Taken only from the holder just read: of two processes taking it at once, one wins.
        let taken = sqlx::query(
            "UPDATE replications SET lease_holder = $1, lease_host = $2, lease_pid = $3,
             lease_started = $4, lease_expires = $5
             WHERE id = $6 AND lease_holder IS NOT DISTINCT FROM $7 AND enabled = 1",
        )
        .bind(&me.id)
        .bind(&me.host)
        .bind(me.pid)
        .bind(&me.started)
        .bind(lease_end())
        .bind(id)
        .bind(&current.lease_holder)
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(taken.rows_affected() == 1)
    }

    async fn release_replication(&self, id: &str) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE replications SET lease_holder = NULL, lease_host = NULL, lease_pid = NULL,
             lease_started = NULL, lease_expires = NULL WHERE id = $1 AND lease_holder = $2",
        )
        .bind(id)
        .bind(&Holder::this_process().id)
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn record_round(&self, id: &str, round: &ReplicationRound) -> Result<(), CatalogError> {
        let now = Timestamp::now();
        let mut tx = self.pool().begin().await.map_err(|e| self.error(e))?;
        let updated = sqlx::query(
            "UPDATE replications SET events_received = events_received + $1,
             events_applied = events_applied + $2, events_ignored = events_ignored + $3,
             events_failed = events_failed + $4, objects_copied = objects_copied + $5,
             bytes_copied = bytes_copied + $6, objects_deleted = objects_deleted + $7,
             pending_since = $8, queue_depth = COALESCE($9, queue_depth), error = $10,
             last_applied_at = CASE WHEN $2 > 0 THEN $11 ELSE last_applied_at END,
             lease_expires = $12
             WHERE id = $13 AND lease_holder = $14",
        )
        .bind(round.received)
        .bind(round.applied)
        .bind(round.ignored)
        .bind(round.failed)
        .bind(round.copied)
        .bind(round.bytes)
        .bind(round.deleted)
        .bind(round.pending_since)
        .bind(round.queue_depth)
        .bind(&round.error)
        .bind(now)
        .bind(lease_end())
        .bind(id)
        .bind(&Holder::this_process().id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        if updated.rows_affected() == 0 {
            return Err(CatalogError::Changed(format!("replication {id}")));
        }
        // Many rows a statement (a round writes hundreds); a round's keys are distinct.
        for chunk in round.written.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO replication_objects (replication_id, key, source_etag, dest_etag)
                 VALUES {} ON CONFLICT (replication_id, key) DO UPDATE
                 SET source_etag = excluded.source_etag, dest_etag = excluded.dest_etag",
                self.dialect.values(chunk.len(), "(?, ?, ?, ?)")
            );
            let mut query = sqlx::query(&sql);
            for written in chunk {
                query = query
                    .bind(id)
                    .bind(self.dialect.store_key(&written.key))
                    .bind(&written.source_etag)
                    .bind(&written.dest_etag);
            }
            query.execute(&mut *tx).await.map_err(|e| self.error(e))?;
        }
        // A key written or removed is settled: no longer failed; a removed one no longer ours.
        let settled: Vec<&String> = round
            .written
            .iter()
            .map(|w| &w.key)
            .chain(&round.removed)
            .collect();
        let removed: Vec<&String> = round.removed.iter().collect();
        for (table, keys) in [
            ("replication_failures", settled),
            ("replication_objects", removed),
        ] {
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "DELETE FROM {table} WHERE key IN ({}) AND replication_id = {}",
                    self.dialect.values(chunk.len(), "?"),
                    self.dialect.parameter(chunk.len() + 1)
                );
                let mut query = sqlx::query(&sql);
                for key in chunk {
                    query = query.bind(self.dialect.store_key(key));
                }
                query
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
            }
        }
        for (key, error) in &round.failures {
            sqlx::query(
                "INSERT INTO replication_failures (replication_id, key, error, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (replication_id, key)
                 DO UPDATE SET error = excluded.error, updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(self.dialect.store_key(key))
            .bind(message(error))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn written_objects(
        &self,
        id: &str,
        keys: &[String],
    ) -> Result<HashMap<String, WrittenObject>, CatalogError> {
        let mut found = HashMap::new();
        // One statement per many keys (a round asks for hundreds): the keys' parameters
        // first, the replication's last, as SQLite numbers `?` in the order they are written.
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT key, source_etag, dest_etag FROM replication_objects
                 WHERE key IN ({}) AND replication_id = {}",
                self.dialect.values(chunk.len(), "?"),
                self.dialect.parameter(chunk.len() + 1)
            );
            let mut query = sqlx::query_as::<_, (String, Option<String>, String)>(&sql);
            for key in chunk {
                query = query.bind(self.dialect.store_key(key));
            }
            let rows = query
                .bind(id)
                .fetch_all(self.pool())
                .await
                .map_err(|e| self.error(e))?;
            for (key, source_etag, dest_etag) in rows {
                let key = self.dialect.load_key(key);
                let written = WrittenObject {
                    key: key.clone(),
                    source_etag,
                    dest_etag,
                };
                found.insert(key, written);
            }
        }
        Ok(found)
    }

    async fn replication_failures(
        &self,
        id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, Timestamp)>, CatalogError> {
        let rows: Vec<(String, String, Timestamp)> = sqlx::query_as(
            "SELECT key, error, updated_at FROM replication_failures
             WHERE replication_id = $1 AND key > COALESCE($2, '') ORDER BY key LIMIT $3",
        )
        .bind(id)
        .bind(self.dialect.store_key_opt(after))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .map(|(key, error, at)| (self.dialect.load_key(key), error, at))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CatalogAddress;
    use awcopy_testkit::catalogue::CatalogPlace;
    use awcopy_testkit::each_catalogue;

    async fn open(place: &CatalogPlace) -> Catalog {
        let address: CatalogAddress = place.address().parse().unwrap();
        Catalog::open(address).await.unwrap()
    }

    fn written(key: &str, source: Option<&str>, dest: &str) -> WrittenObject {
        WrittenObject {
            key: key.into(),
            source_etag: source.map(str::to_owned),
            dest_etag: dest.into(),
        }
    }

    fn new(user: &str) -> NewReplication {
        NewReplication {
            user: user.into(),
            name: Some("raw to lake".into()),
            spec: serde_json::json!({"source": "s3://raw/", "dest": "az://lake/landing/"}),
            queue: "raw-events".into(),
            deletions: true,
            enabled: true,
            reconcile_secs: 86_400,
            schedule_id: Some("s1".into()),
        }
    }

    /// A lease held by a process that is gone: its host is this one, its process id is not a
    /// live process.
    async fn leave_to_a_dead_process(catalog: &Catalog, id: &str) {
        sqlx::query(
            "UPDATE replications SET lease_holder = 'gone', lease_host = $1, lease_pid = $2,
             lease_started = '1', lease_expires = $3 WHERE id = $4",
        )
        .bind(&Holder::this_process().host)
        .bind(i64::from(i32::MAX))
        .bind(lease_end())
        .bind(id)
        .execute(catalog.pool())
        .await
        .unwrap();
    }

    each_catalogue!(a_replication_records_its_rounds_whole_and_only_while_it_holds_the_lease);
    async fn a_replication_records_its_rounds_whole_and_only_while_it_holds_the_lease(
        place: CatalogPlace,
    ) {
        let catalog = open(&place).await;
        let made = catalog.create_replication(new("alice")).await.unwrap();
        let other = catalog.create_replication(new("bob")).await.unwrap();
        assert_eq!(
            catalog.replications(Some("alice")).await.unwrap(),
            std::slice::from_ref(&made)
        );
        assert_eq!(catalog.replications(None).await.unwrap().len(), 2);
        assert!(made.enabled && made.deletions && made.lease().is_none());

        // Not holding the lease: nothing is recorded.
        let round = ReplicationRound {
            received: 5,
            applied: 3,
            ignored: 1,
            failed: 1,
            copied: 2,
            bytes: 20,
            deleted: 1,
            written: vec![
                written("a é/1", Some("s1"), "e1"),
                written("b", None, "e2"),
                written("nul \0 key", Some("s0"), "e0"),
            ],
            removed: vec!["gone".into()],
            failures: vec![("bad".into(), "unreadable".into())],
            pending_since: Some(Timestamp::now()),
            queue_depth: Some(7),
            error: None,
        };
        assert!(matches!(
            catalog.record_round(&made.id, &round).await,
            Err(CatalogError::Changed(_))
        ));
        assert!(catalog.claim_replication(&made.id).await.unwrap());
        assert!(
            catalog.claim_replication(&made.id).await.unwrap(),
            "renewed"
        );
        catalog.record_round(&made.id, &round).await.unwrap();
        let now = catalog.replication(&made.id).await.unwrap();
        assert_eq!(
            (
                now.events_received,
                now.events_applied,
                now.events_ignored,
                now.events_failed
            ),
            (5, 3, 1, 1)
        );
        assert_eq!(
            (now.objects_copied, now.bytes_copied, now.objects_deleted),
            (2, 20, 1)
        );
        assert_eq!(now.queue_depth, Some(7));
        assert!(now.last_applied_at.is_some() && now.pending_since.is_some());
        let keys = [
            "a é/1".to_owned(),
            "b".into(),
            "c".into(),
            "nul \0 key".into(),
        ];
        let etags = catalog.written_objects(&made.id, &keys).await.unwrap();
        assert_eq!(etags.len(), 3);
        assert_eq!(etags["nul \0 key"], written("nul \0 key", Some("s0"), "e0"));
        assert_eq!(etags["a é/1"], written("a é/1", Some("s1"), "e1"));
        assert_eq!(etags["b"].source_etag, None);
        assert!(catalog
            .written_objects(&other.id, &keys)
            .await
            .unwrap()
            .is_empty());
        let failures = catalog
            .replication_failures(&made.id, None, 10)
            .await
            .unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "bad");

        // A later round: an overwrite, a removal, the failed key settled.
        let later = ReplicationRound {
            written: vec![
                written("bad", Some("s3"), "e3"),
                written("b", Some("s4"), "e4"),
            ],
            removed: vec!["a é/1".into()],
            ..ReplicationRound::default()
        };
        catalog.record_round(&made.id, &later).await.unwrap();
        let etags = catalog.written_objects(&made.id, &keys).await.unwrap();
        assert_eq!(etags.get("b"), Some(&written("b", Some("s4"), "e4")));
        assert!(!etags.contains_key("a é/1"));
        assert!(catalog
            .replication_failures(&made.id, None, 10)
            .await
            .unwrap()
            .is_empty());
        let now = catalog.replication(&made.id).await.unwrap();
        assert_eq!(now.pending_since, None, "nothing waits after this round");
        assert_eq!(
            now.queue_depth,
            Some(7),
            "a round that did not read the depth keeps it"
        );

        // A live holder elsewhere keeps it; a dead one's lease is taken at once.
        leave_to_a_dead_process(&catalog, &made.id).await;
        assert!(catalog.claim_replication(&made.id).await.unwrap());
        sqlx::query(
            "UPDATE replications SET lease_holder = 'elsewhere', lease_host = 'far' WHERE id = $1",
        )
        .bind(&made.id)
        .execute(catalog.pool())
        .await
        .unwrap();
        assert!(!catalog.claim_replication(&made.id).await.unwrap());
        assert!(matches!(
            catalog.record_round(&made.id, &later).await,
            Err(CatalogError::Changed(_))
        ));

        // Paused: nobody takes it.
        let mut paused = catalog.replication(&other.id).await.unwrap();
        paused.enabled = false;
        paused.name = None;
        let paused = catalog.update_replication(&paused).await.unwrap();
        assert!(!paused.enabled && paused.name.is_none());
        assert!(!catalog.claim_replication(&other.id).await.unwrap());

        // Deleted with what it recorded; the other stays whole.
        catalog.delete_replication(&made.id).await.unwrap();
        assert!(matches!(
            catalog.replication(&made.id).await,
            Err(CatalogError::NotFound(_))
        ));
        for table in ["replication_objects", "replication_failures"] {
            let (left,): (i64,) = sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM {table} WHERE replication_id = $1"
            ))
            .bind(&made.id)
            .fetch_one(catalog.pool())
            .await
            .unwrap();
            assert_eq!(left, 0, "{table}");
        }
        assert!(catalog.replication(&other.id).await.is_ok());
    }
}
