//! The notifier: reads the outbox and tells people what concerns them by SMS.
//!
//! Workflows write events in the transaction of the change; this loop sends the messages
//! afterwards and remembers how far it got, event by event, so a crash sends one event's
//! messages twice at worst (a hundred contacts' at most) and never loses one. It wakes
//! when a workflow says there is news, and every few seconds anyway (another server may
//! have written events). Each round first traces the cases confirmed since the last one
//! (see [`crate::tracing`]), so new contacts hear at once.
//! With several servers on one store, only the one holding the notifier's lease runs
//! rounds; the others take over when it stops renewing.

use std::time::Duration;

use outbreak_domain::PersonId;
use outbreak_domain::testing::{Conclusion, TestType};
use outbreak_store::{CONTACTS_IDENTIFIED, Event, IdentifiedContacts};

use crate::testing::conclusion_words;
use crate::{Result, Services};

/// The outbox consumer name under which the notifier keeps its place.
const CONSUMER: &str = "sms";
const KINDS: &[&str] =
    &["result.recorded", "result.corrected", "specimen.rejected", CONTACTS_IDENTIFIED, "invitation.sent"];
/// Events read per round.
const ROUND: u32 = 500;
const IDLE: Duration = Duration::from_secs(5);
/// The lease under which one server at a time runs the notifier's rounds.
const LEASE: &str = "notifier";
/// How long a lease lasts unrenewed: several rounds, so a busy round does not lose it, and
/// short enough that a dead server's work is taken over within a minute.
const LEASE_TERM: time::Duration = time::Duration::seconds(60);

impl Services {
    /// Starts the notifier once per process; later calls do nothing.
    pub fn start_notifier(&self) {
        if self.notifier_started.set(()).is_ok() {
            let services = self.clone();
            tokio::spawn(async move { services.run_notifier().await });
        }
    }

    /// Tells a running notifier there is news.
    pub(crate) fn wake_notifier(&self) {
        self.notifier_wake.notify_one();
    }

    async fn run_notifier(self) {
        let holder = uuid::Uuid::new_v4().to_string();
        loop {
            let at = outbreak_domain::now();
            match self.store.lease_consumer(LEASE, &holder, at, at + LEASE_TERM).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another server runs the rounds; look again after a while.
                    let _ = tokio::time::timeout(IDLE, self.notifier_wake.notified()).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take the notifier's lease; retrying");
                    tokio::time::sleep(IDLE).await;
                    continue;
                }
            }
            // Newly confirmed cases are traced first, so their contacts are told this round.
            let traced = self.trace_pending().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "tracing round failed; retrying");
                0
            });
            // Lapsed invitations free their places for the next in line before this round's SMS.
            if let Err(e) = self.expire_invitations().await {
                tracing::warn!(error = %e, "expiring invitations failed; retrying");
            }
            match self.notify_pending().await {
                Ok(sent) if sent > 0 || traced > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notifier round failed; retrying"),
            }
            let _ = tokio::time::timeout(IDLE, self.notifier_wake.notified()).await;
        }
    }

    /// Sends the messages for events not yet handled; returns how many events it handled.
    pub async fn notify_pending(&self) -> Result<usize> {
        let cursor = self.store.event_cursor(CONSUMER).await?;
        let events = self.store.events_after(cursor, KINDS, ROUND).await?;
        for event in &events {
            if let Err(e) = self.notify(event).await {
                // One unreachable phone must not hold up everyone else's results.
                tracing::warn!(error = %e, seq = event.seq, "could not send a notification");
            }
            self.store.set_event_cursor(CONSUMER, event.seq).await?;
        }
        Ok(events.len())
    }

    async fn notify(&self, event: &Event) -> Result<()> {
        if let Some(identified) = IdentifiedContacts::of(event) {
            for contact in identified.contacts {
                let told = match identified.exposure {
                    Some(_) => self.notify_exposure_contact(contact).await,
                    None => self.notify_contact(contact).await,
                };
                if let Err(e) = told {
                    // As between events: one unreachable phone must not hold up the others.
                    tracing::warn!(error = %e, seq = event.seq, %contact, "could not tell a contact");
                }
            }
            return Ok(());
        }
        let Some(person) = event.payload.get("person").and_then(|p| serde_json::from_value::<PersonId>(p.clone()).ok())
        else {
            return Ok(());
        };
        let Some(record) = self.store.person(person).await? else { return Ok(()) };
        let Some(phone) = &record.person.phone else { return Ok(()) };
        let link = format!("{}/me", self.config.public_url.trim_end_matches('/'));
        let name = outbreak_domain::text::fold(&record.person.full_name).to_uppercase();
        let text = if event.kind == "invitation.sent" {
            invitation_text(&name, &event.payload, &link)
        } else if event.kind == "specimen.rejected" {
            format!(
                "Outbreak: mau xet nghiem cua {name} khong dung duoc, xin den lay mau lai. / The sample of {name} could not be tested; please come for a new one. {link}"
            )
        } else {
            let conclusion = event
                .payload
                .get("conclusion")
                .and_then(|c| serde_json::from_value::<Option<Conclusion>>(c.clone()).ok())
                .flatten();
            let test =
                match event.payload.get("test_type").and_then(|t| serde_json::from_value::<TestType>(t.clone()).ok()) {
                    Some(TestType::RapidAntigen) => "test nhanh",
                    _ => "RT-PCR",
                };
            let (vi, en) = conclusion_words(conclusion);
            let corrected = if event.kind == "result.corrected" { " (da dinh chinh / corrected)" } else { "" };
            format!("Outbreak: ket qua xet nghiem {test} cua {name}: {vi}{corrected}. / Test result: {en}. {link}")
        };
        self.sms.send(phone, &text).await
    }
}

/// The invitation SMS: who, where, when, which dose; confirmed or declined on the page.
fn invitation_text(name: &str, payload: &serde_json::Value, link: &str) -> String {
    let text = |key: &str| payload.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let site = outbreak_domain::text::fold(&text("site"));
    let slot = payload.get("slot");
    let from = slot.and_then(|s| s.get("start")).and_then(|v| v.as_str()).unwrap_or_default();
    let until = slot.and_then(|s| s.get("end")).and_then(|v| v.as_str()).unwrap_or_default();
    let dose = payload.get("dose_number").and_then(|v| v.as_u64()).unwrap_or(1);
    format!(
        "Outbreak: {name} duoc moi tiem mui {dose} ngay {date} {from}-{until} tai {site}. Xac nhan hoac tu choi: {link} / Invited for dose {dose} on {date} {from}-{until} at {site}; confirm or decline at {link}",
        date = text("date"),
    )
}
