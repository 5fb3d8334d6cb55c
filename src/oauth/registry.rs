//! The registered clients in memory, read without a lock on the hot path, and trusted
//! only while they are what the database holds (#11 item 5).
//!
//! Every change to `clients` bumps `client_generation` in its own transaction. The
//! registry remembers the generation it was loaded at and accepts a client only after a
//! read of the stored generation that *began after the request arrived* found the same
//! value: a removed client or a replaced secret is refused from the first request after
//! the change commits, on every instance. When the generation moved, that same read
//! reloads the clients. Reads are shared: a request waits for the next read to start and
//! end, and every request that arrived before it started shares it, so a burst costs
//! one tiny query per round trip, not one per request. When the database cannot be
//! reached the read fails and nothing is accepted from memory: the caller goes to the
//! database, which answers 503, so a registry never issues tokens on its own for
//! longer than one pool timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::client::Client;
use crate::store::clients;
use crate::store::{Db, DbConnection, StoreError};

#[derive(Clone)]
pub struct Registry(Arc<Inner>);

struct Inner {
    loaded: RwLock<Arc<Loaded>>,
    /// Tickets handed to requests that asked whether the registry is current.
    asked: AtomicU64,
    /// The latest read: every ticket up to `covers` arrived before it began.
    answers: watch::Sender<Answer>,
    /// Whether a read task is running.
    reading: AtomicBool,
}

#[derive(Default)]
struct Loaded {
    /// `None` until loaded: nothing is trusted before.
    generation: Option<i64>,
    clients: HashMap<String, Arc<Client>>,
}

#[derive(Clone, Copy, Default)]
struct Answer {
    covers: u64,
    current: bool,
}

impl Default for Registry {
    fn default() -> Self {
        Registry(Arc::new(Inner {
            loaded: RwLock::default(),
            asked: AtomicU64::new(0),
            answers: watch::Sender::new(Answer::default()),
            reading: AtomicBool::new(false),
        }))
    }
}

impl Registry {
    /// Replaces the clients with `parsed`, loaded after reading `generation` (see
    /// [`clients::snapshot`]). An older snapshot never replaces a newer one.
    pub fn replace(&self, generation: i64, parsed: Vec<Client>) {
        let mut loaded = self.0.loaded.write().unwrap_or_else(|e| e.into_inner());
        if loaded.generation.is_some_and(|g| g > generation) {
            return;
        }
        let clients = parsed
            .into_iter()
            .map(|c| (c.id.clone(), Arc::new(c)))
            .collect();
        *loaded = Arc::new(Loaded {
            generation: Some(generation),
            clients,
        });
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.0
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client `id` if the registry is current on `conn` (which then reloads it when
    /// the generation moved): for callers already on a database connection.
    pub fn get_on(
        &self,
        conn: &mut DbConnection,
        id: &str,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        self.catch_up(conn)?;
        Ok(self.loaded().clients.get(id).cloned())
    }

    /// The client `id`, if a read of the generation that began after this call found the
    /// registry current. `None`: unknown here, or the database could not say — ask the
    /// database.
    pub async fn get_current(&self, db: &Db, id: &str) -> Option<Arc<Client>> {
        let ticket = self.0.asked.fetch_add(1, SeqCst) + 1;
        let mut answers = self.0.answers.subscribe();
        self.start_reading(db);
        loop {
            let answer = *answers.borrow_and_update();
            if answer.covers >= ticket {
                return answer
                    .current
                    .then(|| self.loaded().clients.get(id).cloned())
                    .flatten();
            }
            answers.changed().await.ok()?;
        }
    }

    /// Starts the read task unless it runs; it reads until every ticket is covered.
    fn start_reading(&self, db: &Db) {
        if self.0.reading.swap(true, SeqCst) {
            return;
        }
        let (registry, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            loop {
                let covers = registry.0.asked.load(SeqCst);
                let reader = registry.clone();
                let current = db
                    .run(move |conn| reader.catch_up(conn))
                    .await
                    .inspect_err(|e| tracing::warn!(error = %e, "cannot read the clients' generation; refusing clients from memory"))
                    .is_ok();
                registry.0.answers.send_replace(Answer { covers, current });
                // Lets the worker answer the requests just woken and read new ones (which
                // take tickets) before the next read: larger rounds, fewer reads.
                tokio::task::yield_now().await;
                if registry.0.asked.load(SeqCst) != covers {
                    continue;
                }
                registry.0.reading.store(false, SeqCst);
                // A ticket taken between the load above and the store saw a running
                // task: cover it unless another task has started since.
                if registry.0.asked.load(SeqCst) == covers || registry.0.reading.swap(true, SeqCst)
                {
                    break;
                }
            }
        });
    }

    /// Reads the stored generation and reloads the clients if it moved.
    fn catch_up(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        let stored = clients::generation(conn)?;
        if self.loaded().generation != Some(stored) {
            let (generation, rows) = clients::snapshot(conn)?;
            self.replace(generation, super::client::parse_all(rows));
        }
        Ok(())
    }
}
