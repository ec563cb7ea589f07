//! [`ObjectIndex`]: the objects of one listing by key, each looked up (and taken) once while
//! another listing goes by — `sync` takes the destination's object for each source object,
//! `check` too — then the ones never taken walked in key order (the extras). Up to a budget
//! of objects it lives in memory; past it, everything moves to a temporary SQLite file, so a
//! bucket of any size is compared in bounded memory and in any listing order (S3 lists keys
//! in UTF-8 byte order, Azure in UTF-16 order, a name policy maps some keys).
//!
//! On rusqlite, over the SQLite build the job catalogue already links: an indexed table is
//! what a spill for lookups in any order, then a walk in key order, needs.

use awcopy_store::{ErrorKind, ObjectMeta, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Where an index may hold its objects.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Objects held in memory at most; past this the index moves to a file.
    pub in_memory: usize,
    /// The directory of that file (default: the system's temporary directory).
    pub spill_dir: Option<PathBuf>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            // About 18 MB: an entry (key and listing metadata in a map) takes ~900 bytes,
            // measured at 100,000 local files.
            in_memory: 20_000,
            spill_dir: None,
        }
    }
}

/// Objects by key, in memory up to a budget and in a temporary SQLite file beyond it.
pub struct ObjectIndex {
    state: Mutex<State>,
    options: IndexOptions,
    peak_in_memory: AtomicUsize,
    spilled: AtomicBool,
}

impl std::fmt::Debug for ObjectIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectIndex")
            .field("options", &self.options)
            .field("spilled", &self.spilled)
            .finish_non_exhaustive()
    }
}

enum State {
    Memory(HashMap<String, ObjectMeta>),
    Disk(Spill),
}

/// The objects in a table of a temporary database, deleted with it.
struct Spill {
    db: rusqlite::Connection,
    _dir: tempfile::TempDir,
}

/// Objects written to the file in one transaction.
const WRITE_BATCH: usize = 4096;
/// Objects moved at once between an index and its callers: added from a listing, walked back.
const PAGE: usize = 1000;

fn spill_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(ErrorKind::Other, format!("the temporary listing file: {e}"))
}

impl Spill {
    fn open(options: &IndexOptions) -> Result<Self, StoreError> {
        let dir = match &options.spill_dir {
            Some(dir) => tempfile::Builder::new()
                .prefix("awcopy-listing-")
                .tempdir_in(dir),
            None => tempfile::Builder::new().prefix("awcopy-listing-").tempdir(),
        }
        .map_err(spill_error)?;
        let db = rusqlite::Connection::open(dir.path().join("listing.db")).map_err(spill_error)?;
        // A scratch file: no journal, no syncs; a crash leaves only a temporary directory.
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
             PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -8192; \
             CREATE TABLE objects (key TEXT PRIMARY KEY, meta TEXT NOT NULL, \
             taken INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
        )
        .map_err(spill_error)?;
        Ok(Self { db, _dir: dir })
    }

    fn write(
        &mut self,
        objects: impl IntoIterator<Item = (String, ObjectMeta)>,
    ) -> Result<(), StoreError> {
        let mut objects = objects.into_iter().peekable();
        while objects.peek().is_some() {
            let tx = self.db.transaction().map_err(spill_error)?;
            {
                let mut insert = tx
                    .prepare_cached("INSERT OR REPLACE INTO objects (key, meta) VALUES (?1, ?2)")
                    .map_err(spill_error)?;
                for (key, meta) in objects.by_ref().take(WRITE_BATCH) {
                    let json = serde_json::to_string(&meta).map_err(spill_error)?;
                    insert.execute((&key, &json)).map_err(spill_error)?;
                }
            }
            tx.commit().map_err(spill_error)?;
        }
        Ok(())
    }

    fn take(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let mut take = self
            .db
            .prepare_cached(
                "UPDATE objects SET taken = 1 WHERE key = ?1 AND taken = 0 RETURNING meta",
            )
            .map_err(spill_error)?;
        let mut rows = take.query([key]).map_err(spill_error)?;
        match rows.next().map_err(spill_error)? {
            Some(row) => {
                let json: String = row.get(0).map_err(spill_error)?;
                serde_json::from_str(&json).map(Some).map_err(spill_error)
            }
            None => Ok(None),
        }
    }

    fn contains(&self, key: &str) -> Result<bool, StoreError> {
        let mut find = self
            .db
            .prepare_cached("SELECT 1 FROM objects WHERE key = ?1 AND taken = 0")
            .map_err(spill_error)?;
        find.exists([key]).map_err(spill_error)
    }

    fn left(&self) -> Result<u64, StoreError> {
        self.db
            .query_row("SELECT COUNT(*) FROM objects WHERE taken = 0", [], |row| {
                row.get(0)
            })
            .map_err(spill_error)
    }

    /// Up to [`PAGE`] objects not taken, after `after` in key order.
    fn page(&self, after: Option<&str>) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        let mut page = self
            .db
            .prepare_cached(
                "SELECT key, meta FROM objects WHERE taken = 0 AND (?1 IS NULL OR key > ?1) \
                 ORDER BY key LIMIT ?2",
            )
            .map_err(spill_error)?;
        let rows = page
            .query_map((after, PAGE as i64), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(spill_error)?;
        rows.map(|row| {
            let (key, json) = row.map_err(spill_error)?;
            Ok((key, serde_json::from_str(&json).map_err(spill_error)?))
        })
        .collect()
    }
}

impl Default for ObjectIndex {
    fn default() -> Self {
        Self::new(IndexOptions::default())
    }
}

impl ObjectIndex {
    /// An empty index held under `options`.
    pub fn new(options: IndexOptions) -> Self {
        Self {
            state: Mutex::new(State::Memory(HashMap::new())),
            options,
            peak_in_memory: AtomicUsize::new(0),
            spilled: AtomicBool::new(false),
        }
    }

    /// Adds `objects` under their keys (a later object of a key replaces an earlier one);
    /// moves the index to its file rather than hold more than its budget.
    pub fn insert(&self, objects: Vec<(String, ObjectMeta)>) -> Result<(), StoreError> {
        let mut state = self.state.lock().expect("index lock");
        match &mut *state {
            State::Memory(map) if map.len() + objects.len() <= self.options.in_memory => {
                map.extend(objects);
                self.peak_in_memory.fetch_max(map.len(), Ordering::Relaxed);
                Ok(())
            }
            State::Memory(map) => {
                let mut spill = Spill::open(&self.options)?;
                spill.write(std::mem::take(map).into_iter().chain(objects))?;
                *state = State::Disk(spill);
                self.spilled.store(true, Ordering::Relaxed);
                Ok(())
            }
            State::Disk(spill) => spill.write(objects),
        }
    }

    /// Adds every object `listing` gives, keyed by its key less its first `strip` bytes, a
    /// page at a time, counting each into `counted` if given. The listing's first error ends
    /// it (what came before stays added).
    pub async fn insert_listing(
        &self,
        listing: &mut mpsc::Receiver<Result<ObjectMeta, StoreError>>,
        strip: usize,
        counted: Option<&AtomicU64>,
    ) -> Result<(), StoreError> {
        let mut page = Vec::new();
        while let Some(item) = listing.recv().await {
            if let Some(counted) = counted {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            let meta = match item {
                Ok(meta) => meta,
                Err(e) => {
                    self.insert(page)?;
                    return Err(e);
                }
            };
            page.push((meta.key[strip..].to_owned(), meta));
            if page.len() >= PAGE {
                self.insert(std::mem::take(&mut page))?;
            }
        }
        self.insert(page)
    }

    /// Takes the object of `key`, if the index holds it and it was not taken yet.
    pub fn take(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match &mut *self.state.lock().expect("index lock") {
            State::Memory(map) => Ok(map.remove(key)),
            State::Disk(spill) => spill.take(key),
        }
    }

    /// Whether it surely holds no object left to take: held in memory, none is; moved to its
    /// file (past its budget), it never says so, which would cost a count.
    pub fn is_empty(&self) -> bool {
        match &*self.state.lock().expect("index lock") {
            State::Memory(map) => map.is_empty(),
            State::Disk(_) => false,
        }
    }

    /// Whether the index holds `key`, not taken yet (in memory a take removes it; on disk it
    /// is marked taken).
    pub fn contains(&self, key: &str) -> Result<bool, StoreError> {
        match &*self.state.lock().expect("index lock") {
            State::Memory(map) => Ok(map.contains_key(key)),
            State::Disk(spill) => spill.contains(key),
        }
    }

    /// How many objects were never taken.
    pub fn left(&self) -> Result<u64, StoreError> {
        match &*self.state.lock().expect("index lock") {
            State::Memory(map) => Ok(map.len() as u64),
            State::Disk(spill) => spill.left(),
        }
    }

    /// Calls `each` with the objects never taken and their keys, a page at a time, in key
    /// order. Held in memory, they are walked from a sorted copy (the index stays usable).
    pub async fn walk_left<F, Fut>(&self, mut each: F) -> Result<(), StoreError>
    where
        F: FnMut(Vec<(String, ObjectMeta)>) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        let in_memory = match &*self.state.lock().expect("index lock") {
            State::Memory(map) => Some(map.clone()),
            State::Disk(_) => None,
        };
        if let Some(map) = in_memory {
            let mut left: Vec<(String, ObjectMeta)> = map.into_iter().collect();
            left.sort_by(|a, b| a.0.cmp(&b.0));
            while !left.is_empty() {
                let rest = left.split_off(left.len().min(PAGE));
                each(std::mem::replace(&mut left, rest)).await?;
            }
            return Ok(());
        }
        let mut after: Option<String> = None;
        loop {
            let page = match &*self.state.lock().expect("index lock") {
                State::Disk(spill) => spill.page(after.as_deref())?,
                State::Memory(_) => unreachable!("an index on disk stays there"),
            };
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.0.clone());
            each(page).await?;
        }
    }

    /// The keys of the objects never taken, in key order, all at once: for a look at a small
    /// index (what a test expects), not for a listing of any size.
    pub async fn keys_left(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        self.walk_left(|page| {
            keys.extend(page.into_iter().map(|(key, _)| key));
            std::future::ready(Ok(()))
        })
        .await?;
        Ok(keys)
    }

    /// The most objects it held in memory at once.
    pub fn peak_in_memory(&self) -> usize {
        self.peak_in_memory.load(Ordering::Relaxed)
    }

    /// Whether it moved to a file.
    pub fn spilled(&self) -> bool {
        self.spilled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(range: std::ops::Range<usize>) -> Vec<(String, ObjectMeta)> {
        range
            .map(|i| {
                let key = format!("k/{}{i:03}", ['a', '\u{ff21}', '\u{1f600}'][i % 3]);
                (key.clone(), ObjectMeta::new(key, i as u64))
            })
            .collect()
    }

    /// The same inserts, takes and walk give the same answers held in memory and spilled;
    /// spilled, no more than the budget was ever in memory.
    #[tokio::test]
    async fn spilled_or_not_the_answers_are_the_same() {
        for budget in [10, 10_000] {
            let index = ObjectIndex::new(IndexOptions {
                in_memory: budget,
                spill_dir: None,
            });
            for start in (0..300).step_by(7) {
                index.insert(entries(start..(start + 7).min(300))).unwrap();
            }
            assert_eq!(index.spilled(), budget < 300);
            assert!(index.peak_in_memory() <= budget.min(300));
            let all = entries(0..300);
            for (key, meta) in all.iter().step_by(2) {
                assert_eq!(index.take(key).unwrap().as_ref(), Some(meta), "{key}");
                assert_eq!(index.take(key).unwrap(), None, "taken once: {key}");
                assert!(!index.contains(key).unwrap(), "taken: {key}");
            }
            assert_eq!(index.take("k/absent").unwrap(), None);
            assert!(!index.contains("k/absent").unwrap());
            assert!(all
                .iter()
                .skip(1)
                .step_by(2)
                .all(|(key, _)| index.contains(key).unwrap()));
            assert_eq!(index.left().unwrap(), 150);
            let mut walked = Vec::new();
            index
                .walk_left(|page| {
                    assert!(page.len() <= PAGE);
                    walked.extend(page);
                    async { Ok(()) }
                })
                .await
                .unwrap();
            let mut expected: Vec<_> = all.into_iter().skip(1).step_by(2).collect();
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(walked, expected, "budget {budget}");
        }
    }
}
