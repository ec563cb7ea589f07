//! What a job would copy and cost before it is submitted (`POST /api/v1/estimate`, the
//! dashboard's "Estimate" button): the spec admitted as a submission is (the same checks and
//! grants), its source listed with its filters within bounds, priced with the built-in book.

use awcopy_engine::preview::{preview, Preview, PreviewBounds, PreviewError};
use awcopy_engine::pricing::PriceBook;
use awcopy_jobs::runner::Prepared;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::User;
use crate::error::ServiceError;
use crate::service::Service;
use crate::wire::EstimateInput;

/// How far one estimate lists: past these it answers with the figures so far, marked
/// incomplete.
const BOUNDS: PreviewBounds = PreviewBounds {
    objects: 1_000_000,
    time: Duration::from_secs(15),
};
/// The most estimates the service lists for at once (each lists with the service's
/// credentials; a form is not a bulk API), one per user.
const MOST_ESTIMATES: usize = 4;
/// The longest region name taken.
const MOST_REGION_CHARS: usize = 40;

/// Room for estimates: [`MOST_ESTIMATES`] at once, one per user, so that no user holds them
/// all.
#[derive(Debug)]
pub(crate) struct Estimates {
    room: Arc<Semaphore>,
    users: Arc<Mutex<HashSet<String>>>,
}

impl Default for Estimates {
    fn default() -> Self {
        Self {
            room: Arc::new(Semaphore::new(MOST_ESTIMATES)),
            users: Arc::default(),
        }
    }
}

impl Estimates {
    /// A place for an estimate of `user`'s, held until it drops; or why there is none.
    fn take(&self, user: &str) -> Result<Place, ServiceError> {
        let mut users = self.users.lock().expect("estimates lock");
        if users.contains(user) {
            return Err(ServiceError::Busy(format!(
                "user '{user}' has an estimate being worked out; wait for its answer"
            )));
        }
        let permit = self.room.clone().try_acquire_owned().map_err(|_| {
            ServiceError::Busy(format!(
                "the service is working out {MOST_ESTIMATES} estimates already; try again in a few seconds"
            ))
        })?;
        users.insert(user.to_owned());
        Ok(Place {
            _permit: permit,
            users: self.users.clone(),
            user: user.to_owned(),
        })
    }
}

/// One estimate's place, given back when it drops.
struct Place {
    _permit: OwnedSemaphorePermit,
    users: Arc<Mutex<HashSet<String>>>,
    user: String,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.users
            .lock()
            .expect("estimates lock")
            .remove(&self.user);
    }
}

impl Service {
    /// What the job `input.spec` would copy and cost, as `caller` submitting it would run it.
    pub async fn estimate(
        &self,
        caller: &User,
        input: EstimateInput,
    ) -> Result<Preview, ServiceError> {
        let regions = (
            region("source_region", input.source_region)?,
            region("dest_region", input.dest_region)?,
        );
        let spec = self.admit(caller, input.spec)?;
        let _place = self.estimates.take(&caller.name)?;
        let prepared = Prepared::new(spec, self.access()).await?;
        preview(prepared, regions, &PriceBook::builtin(), BOUNDS)
            .await
            .map_err(|e| match e {
                PreviewError::Store(e) => ServiceError::Store(e),
                PreviewError::Prices(e) => ServiceError::invalid(format!("prices: {e}")),
            })
    }
}

/// A region name as given (`us-east-1`, `westeurope`): letters, digits and dashes.
fn region(field: &str, text: Option<String>) -> Result<Option<String>, ServiceError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let text = text.trim().to_ascii_lowercase();
    let fits = text.len() <= MOST_REGION_CHARS
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    match fits {
        true => Ok(Some(text)),
        false => Err(ServiceError::invalid(format!(
            "{field}: '{text}' is not a region name (letters, digits and '-', e.g. us-east-1 or westeurope)"
        ))),
    }
}
