//! Transmission chains and clusters: who a case exposed (its F1s and F2s), which of them
//! became cases in turn and whom those exposed, and the groups of cases of a jurisdiction
//! linked that way (one's person is another's contact), by size and growth.
//!
//! Both read what tracing recorded; nothing here writes but the audit log. A contact counts
//! as the same infection as a case of their person only when the case was confirmed within
//! a quarantine period of the exposure, so someone ill last year does not join this cluster.

use std::collections::{BTreeMap, HashMap, HashSet};

use outbreak_domain::testing::{CaseId, CaseStatus};
use outbreak_domain::tracing::ContactId;
use outbreak_domain::venue::Visitor;
use outbreak_domain::{Permission, PersonId, now};
use outbreak_store::{CaseFilter, CaseRow, Contact};
use serde::Serialize;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::{Caller, Result, ServiceError, Services};

/// Contacts a chain draws, at most: a hub case's thousands would make a drawing nobody
/// reads; the chain says how many were left out.
pub const MAX_CHAIN_CONTACTS: usize = 300;
/// How far back the clusters page looks for cases.
pub const CLUSTER_DAYS: i64 = 42;
/// Cases the clusters page reads, at most (the newest).
const CLUSTER_CASES: u32 = 2_000;
/// Contacts read per case when linking cases into clusters.
const CONTACTS_PER_CASE: u32 = 20_000;
/// Cases of one person looked at when deciding whether a contact became a case.
const CASES_PER_PERSON: u32 = 10;

/// A case that a contact's person became.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedCase {
    pub id: CaseId,
    pub status: CaseStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub confirmed_at: OffsetDateTime,
    /// Whether the case lies in the caller's jurisdiction: only then are its own contacts
    /// drawn and its page linked.
    pub visible: bool,
}

/// A contact as a chain draws it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainContact {
    pub contact: Contact,
    /// The column: 1 for the case's F1s, 2 for their F2s, and for the contacts of a contact
    /// who became a case, that contact's column plus their generation.
    pub depth: u8,
    /// The node it was found through: `None` for the chain's case, else a contact drawn.
    pub from: Option<ContactId>,
    /// When this contact became a case themselves.
    pub case: Option<LinkedCase>,
}

/// A contact of a linked case who is drawn already (as the chain's case, or as someone
/// else's contact): an edge more, no node more.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainLink {
    /// The contact who became a case.
    pub from: ContactId,
    /// The node met again; `None` for the chain's case.
    pub to: Option<ContactId>,
    /// That contact's record under the linked case, with its evidence.
    pub contact: Contact,
}

/// A case and the people it exposed, one level past those who became cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Chain {
    pub case: CaseRow,
    /// Contacts in the order they are drawn: the case's own first, F1s before F2s.
    pub contacts: Vec<ChainContact>,
    pub links: Vec<ChainLink>,
    /// Contacts of the case (and of its linked cases) not drawn because of the bound.
    pub left_out: u64,
    /// Linked cases outside the caller's jurisdiction, whose contacts are not drawn.
    pub hidden_cases: u64,
}

/// A case as a cluster lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterCase {
    pub id: CaseId,
    pub person: PersonId,
    pub name: String,
    pub unit: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub confirmed_at: OffsetDateTime,
    pub status: CaseStatus,
}

/// Cases linked because one's person is another's contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cluster {
    /// The case the cluster starts from: the earliest confirmed of those nobody in the
    /// cluster exposed. Its chain draws the cluster.
    pub root: CaseId,
    /// The cluster's cases, earliest confirmed first.
    pub cases: Vec<ClusterCase>,
    /// Cases confirmed in the last 7 days, and in the 7 days before.
    pub last_7_days: u64,
    pub previous_7_days: u64,
}

impl Cluster {
    pub fn size(&self) -> usize {
        self.cases.len()
    }

    /// New cases this week over last week's.
    pub fn growth(&self) -> i64 {
        self.last_7_days as i64 - self.previous_7_days as i64
    }
}

/// How the clusters page orders clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterOrder {
    /// Most cases first, then the fastest growing.
    Size,
    /// Fastest growing first, then the largest.
    Growth,
}

/// Whether a case of a contact's person is the same outbreak as the contact's exposure.
fn same_outbreak(exposure: OffsetDateTime, confirmed: OffsetDateTime, period: Duration) -> bool {
    (confirmed - exposure).abs() <= period
}

/// A small union-find over case indexes.
struct Groups(Vec<usize>);

impl Groups {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// Groups cases into clusters over `exposed` (case index → indexes of the cases its
/// contacts became), keeping groups of two cases or more.
fn group(cases: &[CaseRow], exposed: &[(usize, usize)], at: OffsetDateTime) -> Vec<Cluster> {
    let mut groups = Groups((0..cases.len()).collect());
    for (a, b) in exposed {
        groups.join(*a, *b);
    }
    let was_exposed: HashSet<usize> = exposed.iter().filter(|(a, b)| a != b).map(|(_, b)| *b).collect();
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..cases.len() {
        members.entry(groups.find(i)).or_default().push(i);
    }
    let week = Duration::days(7);
    members
        .into_values()
        .filter(|m| m.len() > 1)
        .map(|mut m| {
            m.sort_by_key(|i| (cases[*i].case.confirmed_at, cases[*i].case.id));
            let root = m.iter().find(|i| !was_exposed.contains(i)).or(m.first()).map(|i| cases[*i].case.id);
            let within = |from: Duration, to: Duration| {
                m.iter().filter(|i| (at - to..at - from).contains(&cases[**i].case.confirmed_at)).count() as u64
            };
            Cluster {
                root: root.unwrap_or(cases[m[0]].case.id),
                last_7_days: within(Duration::ZERO, week),
                previous_7_days: within(week, week * 2),
                cases: m
                    .iter()
                    .map(|i| {
                        let row = &cases[*i];
                        ClusterCase {
                            id: row.case.id,
                            person: row.case.person,
                            name: row.full_name.clone(),
                            unit: row.case.unit.to_string(),
                            confirmed_at: row.case.confirmed_at,
                            status: row.case.status,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

impl Services {
    /// The case a contact's person became, if any: not discarded, confirmed within a
    /// quarantine period of the exposure, and not `except`.
    async fn became_case(&self, caller: &Caller, contact: &Contact, except: CaseId) -> Result<Option<LinkedCase>> {
        let Some(person) = contact.person else { return Ok(None) };
        let filter = CaseFilter { scope: vec!["/".into()], since: None, person: Some(person), limit: CASES_PER_PERSON };
        let period = self.config.tracing.quarantine;
        Ok(self
            .store
            .cases(&filter)
            .await?
            .into_iter()
            .filter(|row| row.case.id != except && row.case.status != CaseStatus::Discarded)
            .filter(|row| same_outbreak(contact.exposure_at, row.case.confirmed_at, period))
            .min_by_key(|row| row.case.confirmed_at)
            .map(|row| LinkedCase {
                id: row.case.id,
                status: row.case.status,
                confirmed_at: row.case.confirmed_at,
                visible: caller.principal.may(Permission::ManageCases, &row.case.unit_path),
            }))
    }

    /// A case's chain: its contacts, which of them became cases, and — for those in the
    /// caller's jurisdiction — their contacts too, at most [`MAX_CHAIN_CONTACTS`] (audited).
    /// Whether a contact became a case is shown whatever their province: the case's tracers
    /// follow that contact already; the other case's contacts stay with its own tracers.
    pub async fn chain(&self, caller: &Caller, id: CaseId) -> Result<Chain> {
        let row = self.store.case(id).await?.ok_or_else(|| ServiceError::NotFound("case".into()))?;
        self.authorize_unit(caller, Permission::ManageCases, &row.case.unit_path)?;
        let total: u64 = self.store.count_case_contacts(id).await?.iter().map(|c| c.contacts).sum();
        let own = self.store.case_contacts(id, MAX_CHAIN_CONTACTS as u32).await?;
        let mut left_out = total.saturating_sub(own.len() as u64);

        // Every visitor drawn, and the node that stands for them (`None`: the case).
        let case_key = Visitor::Person(row.case.person).key();
        let mut drawn: HashMap<String, Option<ContactId>> = HashMap::from([(case_key, None)]);
        // The node each contact hangs from, so that an edge is never drawn twice.
        let mut hangs_from: HashMap<Option<ContactId>, Option<ContactId>> = HashMap::new();
        let mut contacts = Vec::with_capacity(own.len());
        for c in own {
            drawn.insert(c.visitor.clone(), Some(c.id));
            let depth = c.generation;
            let from = if c.generation == 1 { None } else { c.via };
            hangs_from.insert(Some(c.id), from);
            let case = self.became_case(caller, &c, id).await?;
            contacts.push(ChainContact { contact: c, depth, from, case });
        }

        // One level more: the contacts of contacts who became cases the caller may see.
        let mut links = Vec::new();
        let mut hidden_cases = 0;
        let mut expanded = HashSet::from([id]);
        let linked: Vec<(ContactId, u8, LinkedCase)> =
            contacts.iter().filter_map(|c| c.case.clone().map(|case| (c.contact.id, c.depth, case))).collect();
        for (node, depth, case) in linked {
            if !case.visible {
                hidden_cases += 1;
                continue;
            }
            if !expanded.insert(case.id) {
                continue;
            }
            let theirs = self.store.case_contacts(case.id, CONTACTS_PER_CASE).await?;
            // Their record id → the node drawn for that visitor, for their F2s' `via`.
            let mut nodes: HashMap<ContactId, Option<ContactId>> = HashMap::new();
            for c in theirs {
                let from = match c.via.and_then(|via| nodes.get(&via).copied()) {
                    Some(through) if c.generation > 1 => through,
                    _ => Some(node),
                };
                if let Some(seen) = drawn.get(&c.visitor).copied() {
                    nodes.insert(c.id, seen);
                    // The same two people joined already, one way or the other.
                    let drawn_already = seen == Some(node)
                        || hangs_from.get(&seen) == Some(&Some(node))
                        || hangs_from.get(&Some(node)) == Some(&seen);
                    if !drawn_already && c.generation == 1 {
                        links.push(ChainLink { from: node, to: seen, contact: c });
                    }
                    continue;
                }
                if contacts.len() >= MAX_CHAIN_CONTACTS {
                    left_out += 1;
                    continue;
                }
                nodes.insert(c.id, Some(c.id));
                drawn.insert(c.visitor.clone(), Some(c.id));
                hangs_from.insert(Some(c.id), from);
                let became = self.became_case(caller, &c, case.id).await?.filter(|b| b.id != id);
                contacts.push(ChainContact { depth: depth + c.generation, from, case: became, contact: c });
            }
        }
        let cases = contacts.iter().filter(|c| c.case.is_some()).count();
        let detail = format!("{} contacts, {cases} of them cases", contacts.len());
        self.audit(caller, "case.chain", "case", &id.to_string(), &detail).await?;
        Ok(Chain { case: row, contacts, links, left_out, hidden_cases })
    }

    /// Clusters of the caller's jurisdiction over the last [`CLUSTER_DAYS`] days: cases
    /// linked because one's person is another's contact, two cases or more (audited).
    pub async fn clusters(&self, caller: &Caller, order: ClusterOrder) -> Result<Vec<Cluster>> {
        let scope = self.authorize(caller, Permission::ManageCases)?;
        let at = now();
        let filter = CaseFilter {
            scope: scope.paths,
            since: Some(at - Duration::days(CLUSTER_DAYS)),
            person: None,
            limit: CLUSTER_CASES,
        };
        let cases: Vec<CaseRow> =
            self.store.cases(&filter).await?.into_iter().filter(|r| r.case.status != CaseStatus::Discarded).collect();
        let mut by_person: HashMap<PersonId, Vec<usize>> = HashMap::new();
        for (i, row) in cases.iter().enumerate() {
            by_person.entry(row.case.person).or_default().push(i);
        }
        let period = self.config.tracing.quarantine;
        let mut exposed = Vec::new();
        for (i, row) in cases.iter().enumerate() {
            for contact in self.store.case_contacts(row.case.id, CONTACTS_PER_CASE).await? {
                let Some(theirs) = contact.person.and_then(|p| by_person.get(&p)) else { continue };
                for j in theirs {
                    if *j != i && same_outbreak(contact.exposure_at, cases[*j].case.confirmed_at, period) {
                        exposed.push((i, *j));
                    }
                }
            }
        }
        let mut clusters = group(&cases, &exposed, at);
        let latest = |c: &Cluster| c.cases.last().map(|k| k.confirmed_at);
        match order {
            ClusterOrder::Size => clusters.sort_by(|a, b| {
                b.size().cmp(&a.size()).then(b.growth().cmp(&a.growth())).then(latest(b).cmp(&latest(a)))
            }),
            ClusterOrder::Growth => clusters.sort_by(|a, b| {
                b.growth().cmp(&a.growth()).then(b.size().cmp(&a.size())).then(latest(b).cmp(&latest(a)))
            }),
        }
        let detail = format!("{} clusters of {} cases", clusters.len(), cases.len());
        self.audit(caller, "cluster.list", "case", "", &detail).await?;
        Ok(clusters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::UnitCode;
    use outbreak_store::Case;
    use time::macros::datetime;
    use uuid::Uuid;

    fn row(n: u128, confirmed_at: OffsetDateTime) -> CaseRow {
        CaseRow {
            case: Case {
                id: CaseId(Uuid::from_u128(n)),
                person: PersonId(Uuid::from_u128(100 + n)),
                unit: UnitCode::parse("unit", "00070").unwrap(),
                unit_path: "/VN/01/00070/".into(),
                source: "test".into(),
                specimen: None,
                sample_date: None,
                onset_date: None,
                confirmed_at,
                status: CaseStatus::Confirmed,
                note: String::new(),
            },
            full_name: format!("Ca {n}"),
            phone: None,
        }
    }

    #[test]
    fn linked_cases_form_clusters_rooted_where_nobody_exposed_them() {
        let at = datetime!(2026-05-20 00:00 UTC);
        let cases = [
            row(1, at - Duration::days(12)),
            row(2, at - Duration::days(3)),
            row(3, at - Duration::days(1)),
            row(4, at - Duration::days(2)),
            row(5, at - Duration::days(9)),
        ];
        // Case 2's person was a contact of case 1, case 3's of case 2; 4 and 5 stand alone.
        let clusters = group(&cases, &[(0, 1), (1, 2)], at);
        assert_eq!(clusters.len(), 1, "single cases are no cluster");
        let cluster = &clusters[0];
        assert_eq!(cluster.root, CaseId(Uuid::from_u128(1)));
        assert_eq!(cluster.size(), 3);
        assert_eq!((cluster.last_7_days, cluster.previous_7_days), (2, 1));
        assert_eq!(cluster.growth(), 1);
        // The root is who nobody exposed, even when confirmed later than a case they exposed.
        let clusters = group(&cases, &[(2, 4)], at);
        assert_eq!(clusters[0].root, CaseId(Uuid::from_u128(3)));
    }

    #[test]
    fn a_case_long_before_the_exposure_is_another_outbreak() {
        let exposure = datetime!(2026-05-10 08:00 UTC);
        let period = Duration::days(14);
        assert!(same_outbreak(exposure, exposure + Duration::days(5), period));
        assert!(same_outbreak(exposure, exposure - Duration::days(3), period), "the contact may be the source");
        assert!(!same_outbreak(exposure, exposure - Duration::days(60), period));
        assert!(!same_outbreak(exposure, exposure + Duration::days(20), period));
    }
}
