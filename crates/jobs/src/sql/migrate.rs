//! Moves a catalogue into another, empty one (`awcopy db migrate`): a one-machine SQLite file
//! into the PostgreSQL database of service replicas, say. Every table's rows go across in
//! multi-row statements, in one transaction on the destination (a failure leaves it empty);
//! keys and messages are stored as the destination stores them; a job's counters are rebuilt
//! by the destination's own triggers as its objects and staged blocks arrive, as they were
//! built at the source.

use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::recorder::ROWS_PER_STATEMENT;
use super::stored_text::message;
use super::{Catalog, Dialect};
use crate::records::CatalogError;

/// What a column holds, for moving it.
#[derive(Debug, Clone, Copy)]
enum Column {
    /// An integer.
    Int(&'static str),
    /// Text kept as it is.
    Text(&'static str),
    /// A key (or a listing range's bound), stored as each database stores keys.
    Key(&'static str),
    /// A message, which may have quoted a key.
    Message(&'static str),
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Int(name) | Column::Text(name) | Column::Key(name) | Column::Message(name) => {
                name
            }
        }
    }
}

/// One table: its name, the columns moved (those its triggers keep are left to them), and
/// the order rows are read in. Parents come before the rows that refer to them.
struct Table {
    name: &'static str,
    columns: &'static [Column],
    order: &'static str,
}

use Column::{Int, Key, Message, Text};

/// Every table of the catalogue but `replicas` (processes of the source's own).
const TABLES: &[Table] = &[
    Table {
        name: "jobs",
        columns: &[
            Text("id"),
            Text("user_name"),
            Text("name"),
            Text("command"),
            Text("source"),
            Text("dest"),
            Text("spec"),
            Text("status"),
            Int("owner_pid"),
            Text("owner_started"),
            Text("lease_holder"),
            Text("lease_host"),
            Text("lease_expires"),
            Text("requested"),
            Text("created_at"),
            Text("started_at"),
            Text("finished_at"),
            Int("objects_mapped"),
            Int("number"),
            Message("copy_source_unreachable"),
            Message("error"),
            Text("error_kind"),
        ],
        order: "id",
    },
    Table {
        name: "job_runs",
        columns: &[
            Text("job_id"),
            Int("number"),
            Text("started_by"),
            Text("started_at"),
            Text("finished_at"),
            Text("status"),
            Message("error"),
            Int("objects_at_start"),
            Int("bytes_at_start"),
        ],
        order: "job_id, number",
    },
    // Listing entries before outcomes: an outcome counts its object listed only when it has no
    // entry (the destination's triggers count them as the source's did).
    Table {
        name: "job_listing_entries",
        columns: &[Int("job_number"), Key("key"), Int("size"), Text("meta")],
        order: "job_number, key",
    },
    Table {
        name: "job_objects",
        columns: &[
            Int("job_number"),
            Key("key"),
            Int("size"),
            Text("state"),
            Text("staged_by"),
        ],
        order: "job_number, key",
    },
    Table {
        name: "job_failures",
        columns: &[
            Int("job_number"),
            Key("key"),
            Message("error"),
            Int("attempts"),
            Text("updated_at"),
        ],
        order: "job_number, key",
    },
    Table {
        name: "job_ranges",
        columns: &[
            Text("job_id"),
            Int("range_id"),
            Key("after_key"),
            Key("before_key"),
            Int("done"),
        ],
        order: "job_id, range_id",
    },
    Table {
        name: "job_uploads",
        columns: &[
            Text("job_id"),
            Key("key"),
            Key("dest_key"),
            Text("upload_id"),
            Int("part_size"),
            Int("source_size"),
            Text("source_etag"),
        ],
        order: "job_id, key",
    },
    Table {
        name: "job_parts",
        columns: &[
            Text("job_id"),
            Key("key"),
            Int("number"),
            Text("handle"),
            Int("size"),
            Int("crc64"),
            Text("agent"),
        ],
        order: "job_id, key, number",
    },
    Table {
        name: "schedules",
        columns: &[
            Text("id"),
            Text("user_name"),
            Text("name"),
            Text("template"),
            Int("every_secs"),
            Text("cron"),
            Int("enabled"),
            Text("modified_since"),
            Int("overlap_secs"),
            Int("max_failures"),
            Int("failures_in_a_row"),
            Text("watermark"),
            Text("next_run"),
            Message("disabled_reason"),
            Text("created_at"),
        ],
        order: "id",
    },
    Table {
        name: "schedule_runs",
        columns: &[Text("schedule_id"), Text("job_id"), Text("started_at")],
        order: "schedule_id, job_id",
    },
    // Without their leases: those name processes of the source's own.
    Table {
        name: "replications",
        columns: &[
            Text("id"),
            Text("user_name"),
            Text("name"),
            Text("spec"),
            Text("queue"),
            Int("deletions"),
            Int("enabled"),
            Int("reconcile_secs"),
            Text("schedule_id"),
            Text("created_at"),
            Int("events_received"),
            Int("events_applied"),
            Int("events_ignored"),
            Int("events_failed"),
            Int("objects_copied"),
            Int("bytes_copied"),
            Int("objects_deleted"),
            Text("pending_since"),
            Text("last_applied_at"),
            Int("queue_depth"),
            Message("error"),
        ],
        order: "id",
    },
    Table {
        name: "replication_objects",
        columns: &[
            Text("replication_id"),
            Key("key"),
            Text("source_etag"),
            Text("dest_etag"),
        ],
        order: "replication_id, key",
    },
    Table {
        name: "replication_failures",
        columns: &[
            Text("replication_id"),
            Key("key"),
            Message("error"),
            Text("updated_at"),
        ],
        order: "replication_id, key",
    },
];

/// A value on its way across.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

/// How many rows of each table moved, by table.
pub type Moved = Vec<(&'static str, u64)>;

impl Catalog {
    /// Copies every job (with its objects, runs, listing ranges and uploads) and every
    /// schedule of this catalogue into `to`, which must hold none; answers how many rows of
    /// each table moved. Nothing is written to `to` unless all of it is.
    pub async fn migrate_into(&self, to: &Catalog) -> Result<Moved, CatalogError> {
        let held: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM schedules)",
        )
        .fetch_one(to.pool())
        .await
        .map_err(|e| to.error(e))?;
        if held > 0 {
            return Err(CatalogError::Other(format!(
                "{}: holds {held} jobs and schedules already; migrate into an empty catalogue",
                to.shown
            )));
        }
        let mut tx = to.pool().begin().await.map_err(|e| to.error(e))?;
        let mut moved = Vec::new();
        for table in TABLES {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name()).collect();
            let select = format!(
                "SELECT {} FROM {} ORDER BY {}",
                names.join(", "),
                table.name,
                table.order
            );
            let row_shape = format!("({})", vec!["?"; names.len()].join(", "));
            let mut rows = sqlx::query(&select).fetch(self.pool());
            let mut batch: Vec<Vec<Value>> = Vec::with_capacity(ROWS_PER_STATEMENT);
            let mut count = 0;
            loop {
                let row = rows.try_next().await.map_err(|e| self.error(e))?;
                if let Some(row) = &row {
                    batch.push(self.read(table, row, to).map_err(|e| self.error(e))?);
                }
                if batch.len() == ROWS_PER_STATEMENT || (row.is_none() && !batch.is_empty()) {
                    let insert = format!(
                        "INSERT INTO {} ({}) VALUES {}",
                        table.name,
                        names.join(", "),
                        to.dialect.values(batch.len(), &row_shape)
                    );
                    let mut query = sqlx::query(&insert);
                    for value in batch.drain(..).flatten() {
                        query = match value {
                            Value::Int(v) => query.bind(v),
                            Value::Text(v) => query.bind(v),
                        };
                    }
                    count += query
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| to.error(e))?
                        .rows_affected();
                }
                if row.is_none() {
                    break;
                }
            }
            moved.push((table.name, count));
        }
        if to.dialect == Dialect::Postgres {
            // Jobs came with their numbers: the next job created takes the one after them.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('jobs', 'number'),
                               COALESCE(MAX(number), 0) + 1, false) FROM jobs",
            )
            .execute(&mut *tx)
            .await
            .map_err(|e| to.error(e))?;
        }
        tx.commit().await.map_err(|e| to.error(e))?;
        Ok(moved)
    }

    /// The values of `row` of `table`, as catalogue `to` stores them.
    fn read(&self, table: &Table, row: &AnyRow, to: &Catalog) -> Result<Vec<Value>, sqlx::Error> {
        table
            .columns
            .iter()
            .map(|column| {
                let text = |name| row.try_get::<Option<String>, _>(name);
                Ok(match *column {
                    Int(name) => Value::Int(row.try_get(name)?),
                    Text(name) => Value::Text(text(name)?),
                    Key(name) => Value::Text(
                        text(name)?.map(|key| to.dialect.store_key(&self.dialect.load_key(key))),
                    ),
                    Message(name) => Value::Text(text(name)?.map(|m| message(&m))),
                })
            })
            .collect()
    }
}
