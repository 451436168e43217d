//! Looking up one's own record without an account: a CCCD and a date of birth, then a
//! one-time code sent to the phone registered with them.
//!
//! Nothing is revealed on a wrong answer: a request with details that match nobody gets the
//! same reply as one that matches, and a wrong code the same as a wrong CCCD. Requests are
//! limited per network address, and codes per phone as for signing in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use outbreak_domain::{BirthDate, Cccd, local_date, now};
use outbreak_store::{PersonQuery, PersonRecord};

use crate::testing::PersonResults;
use crate::{Result, ServiceError, Services};

/// Look-ups (code requests and code checks together) allowed per network address per hour.
const LOOKUPS_PER_CLIENT_HOUR: usize = 20;

/// Counts recent look-ups per client address. It lives in the server's memory: behind a
/// load balancer each server counts its own share, which the per-phone code limits in the
/// store back up.
#[derive(Default)]
pub(crate) struct LookupLimiter {
    seen: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LookupLimiter {
    fn allow(&self, client: &str) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        if seen.len() > 100_000 {
            seen.clear();
        }
        let times = seen.entry(client.to_owned()).or_default();
        times.retain(|t| t.elapsed() < Duration::from_secs(3600));
        if times.len() >= LOOKUPS_PER_CLIENT_HOUR {
            return false;
        }
        times.push(Instant::now());
        true
    }
}

fn wrong() -> ServiceError {
    ServiceError::Unauthenticated(
        "these details and this code do not match a record: check them, or ask for a new code".into(),
    )
}

impl Services {
    fn lookup_allowed(&self, client: &str) -> Result<()> {
        if self.lookups.allow(client) {
            Ok(())
        } else {
            Err(ServiceError::RateLimited {
                message: "too many look-ups from this network; try again in an hour".into(),
                retry_after_secs: 3600,
            })
        }
    }

    /// The person with this CCCD and date of birth, if both match.
    async fn person_by_cccd_and_birth(&self, cccd: &str, birth: &str) -> Result<Option<PersonRecord>> {
        let cccd = Cccd::parse("cccd", cccd)?;
        let birth = BirthDate::parse("date_of_birth", birth, local_date(now()))?;
        let query = PersonQuery {
            cccd: Some(cccd.as_str().into()),
            scope: vec!["/".into()],
            limit: 1,
            ..PersonQuery::default()
        };
        Ok(self.store.search_people(&query).await?.into_iter().next().filter(|r| r.person.date_of_birth == birth))
    }

    /// Sends a look-up code to the phone registered with this CCCD and date of birth, if
    /// they match a person with a phone; answers the same either way.
    pub async fn request_lookup_code(&self, cccd: &str, birth: &str, client: &str) -> Result<()> {
        self.lookup_allowed(client)?;
        if let Some(record) = self.person_by_cccd_and_birth(cccd, birth).await?
            && let Some(phone) = &record.person.phone
        {
            match self.send_code(phone, client, "ma tra cuu ket qua", "Your look-up code").await {
                // Saying that this phone hit its limit would say that the details matched.
                Ok(()) | Err(ServiceError::RateLimited { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The person's record, when the details and the code match.
    pub(crate) async fn looked_up(&self, cccd: &str, birth: &str, code: &str, client: &str) -> Result<PersonRecord> {
        self.lookup_allowed(client)?;
        let record = self.person_by_cccd_and_birth(cccd, birth).await?.ok_or_else(wrong)?;
        let phone = record.person.phone.clone().ok_or_else(wrong)?;
        self.check_code(&phone, code).await.map_err(|_| wrong())?;
        Ok(record)
    }

    /// A person's test results, for anyone holding their CCCD, date of birth and the code.
    pub async fn lookup_results(&self, cccd: &str, birth: &str, code: &str, client: &str) -> Result<PersonResults> {
        let record = self.looked_up(cccd, birth, code, client).await?;
        self.results_of(&record).await
    }
}
