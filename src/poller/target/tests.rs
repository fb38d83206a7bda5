//! The rules of a target's poll: what a failure keeps, when counts go
//! stale, what discovery shows, which name wins.

use std::time::{Duration, SystemTime};

use super::*;
use crate::evolux::fields::ResponseLayout;
use crate::model::{Campaign, Reason};
use crate::segments::Policy;

fn add(t: &mut Tally, json: &str) {
    let layout = ResponseLayout::default();
    let fields = layout.extract(json.as_bytes()).unwrap().unwrap();
    t.add(&fields);
}

fn tally_of(campaign: &str, states: &[&str]) -> Tally {
    let mut t = Tally::new(Some(campaign), 10_000);
    for s in states {
        add(
            &mut t,
            &format!(r#"{{"state":"{s}","template_uuid":"t1","template_name":"T one"}}"#),
        );
    }
    t
}

/// Whole reads (max_interval = interval), a poll a minute, stale after 10 min.
fn rules() -> PollRules {
    let minute = Duration::from_secs(60);
    PollRules {
        policy: Policy::new(minute, minute),
        budget: 100,
        max_staleness: Duration::from_secs(600),
        verify_interval: None,
    }
}

fn target(uuid: &str, name: Option<&str>) -> TargetState {
    fresh(&Query::Campaign(campaign(uuid, name, None)))
}

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

/// One poll of `targets` at `at`, each answering its whole read with `answer`.
fn poll(
    targets: &mut [TargetState],
    at: SystemTime,
    answers: Vec<Result<Tally, Failure>>,
) -> Snapshot {
    for (t, answer) in targets.iter_mut().zip(answers) {
        t.layout.prepare(at, &rules().policy);
        let plan = t.layout.plan(at, &rules().policy);
        assert_eq!(plan.regular.len(), 1, "one whole read");
        // The whole read (a new target's check unanswered: no verdict).
        let kind = plan.regular[0]
            .all_reads()
            .map(|r| r.kind)
            .find(|k| *k == ReadKind::Whole)
            .unwrap_or(plan.regular[0].reads[0].kind);
        t.record_poll(
            at,
            at,
            Duration::from_millis(5),
            vec![Answer {
                kind,
                result: answer,
            }],
            &rules(),
        );
    }
    snapshot(targets)
}

fn failed() -> Result<Tally, Failure> {
    Err(Failure::new(Reason::ServerError, "HTTP 500"))
}

#[test]
fn success_replaces_and_failure_keeps_last_good_counts() {
    let mut targets = [target(A, None), target(B, None)];
    let s1 = poll(
        &mut targets,
        t0(),
        vec![
            Ok(tally_of(A, &["sent", "error"])),
            Ok(tally_of(B, &["sent"])),
        ],
    );
    assert_eq!(s1.up, Some(true));
    assert_eq!(s1.template_names["t1"], "T one");
    let s2 = poll(
        &mut targets,
        t0() + Duration::from_secs(60),
        vec![failed(), Ok(tally_of(B, &["sent", "sent"]))],
    );
    assert_eq!(s2.up, Some(false));
    let a = &s2.campaigns[A];
    assert!(!a.up);
    assert_eq!(a.last_success, Some(t0()));
    assert_eq!(a.counts, s1.campaigns[A].counts, "last good counts kept");
    assert_eq!(
        a.error.as_ref().map(|f| f.reason),
        Some(Reason::ServerError)
    );
    assert_eq!(a.failing_since, Some(t0() + Duration::from_secs(60)));
    assert_eq!(s1.campaigns[A].failing_since, None);
    let s3 = poll(
        &mut targets,
        t0() + Duration::from_secs(120),
        vec![failed(), Ok(tally_of(B, &["sent"]))],
    );
    assert_eq!(
        s3.campaigns[A].failing_since,
        Some(t0() + Duration::from_secs(60)),
        "since the first failure in a row"
    );
    assert_eq!(a.segments, 1);
    assert_eq!(
        a.refreshed,
        Some(t0()),
        "the counts are as of the last good read"
    );
    assert_eq!(s2.campaigns[B].counts.as_ref().unwrap().total(), 2);
    assert_eq!(s2.template_names["t1"], "T one");
}

#[test]
fn counts_go_stale_after_failing_for_max_staleness() {
    let mut targets = [target(A, None)];
    poll(&mut targets, t0(), vec![Ok(tally_of(A, &["sent"]))]);
    // Failing from t0 + 60 s on.
    let first_failure = t0() + Duration::from_secs(60);
    poll(&mut targets, first_failure, vec![failed()]);
    let s2 = poll(
        &mut targets,
        first_failure + Duration::from_secs(599),
        vec![failed()],
    );
    assert!(
        s2.campaigns[A].counts.is_some(),
        "failing for less than max_staleness: kept"
    );
    let s3 = poll(
        &mut targets,
        first_failure + Duration::from_secs(600),
        vec![failed()],
    );
    let a = &s3.campaigns[A];
    assert!(a.counts.is_none(), "stale counts dropped");
    assert!(!a.up);
    assert_eq!(a.last_success, Some(t0()));
    assert_eq!(a.refreshed, None);
    assert!(s3.template_names.is_empty());
}

#[test]
fn discovery_failure_keeps_every_known_campaign_until_stale() {
    let mut targets = [fresh(&Query::Discovery)];
    let mut t = Tally::new(None, 100);
    add(&mut t, r#"{"state":"sent","campaign_uuid":"a"}"#);
    add(&mut t, r#"{"state":"dnd","campaign_uuid":"b"}"#);
    let s1 = poll(&mut targets, t0(), vec![Ok(t)]);
    assert_eq!(s1.campaigns.len(), 2);
    let s2 = poll(&mut targets, t0() + Duration::from_secs(1), vec![failed()]);
    assert_eq!(s2.campaigns.len(), 2);
    assert!(s2.campaigns.values().all(|c| !c.up && c.counts.is_some()));
    let s3 = poll(
        &mut targets,
        t0() + Duration::from_secs(700),
        vec![failed()],
    );
    assert!(
        s3.campaigns.is_empty(),
        "stale discovered campaigns are forgotten"
    );
    assert_eq!(s3.up, Some(false));
}

#[test]
fn configured_names_win_over_record_names() {
    let mut t = Tally::new(Some(A), 100);
    add(
        &mut t,
        &format!(r#"{{"state":"sent","campaign_uuid":"{A}","campaign_name":"From records"}}"#),
    );
    let mut t2 = Tally::new(Some(B), 100);
    add(
        &mut t2,
        &format!(r#"{{"state":"sent","campaign_uuid":"{B}","campaign_name":"From records"}}"#),
    );
    let mut targets = [target(A, Some("Configured")), target(B, None)];
    let s = poll(&mut targets, t0(), vec![Ok(t), Ok(t2)]);
    assert_eq!(s.campaigns[A].name.as_deref(), Some("Configured"));
    assert_eq!(s.campaigns[B].name.as_deref(), Some("From records"));
}

const A: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
const B: &str = "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54";

fn campaign(uuid: &str, name: Option<&str>, state: Option<&str>) -> Campaign {
    Campaign {
        uuid: uuid.parse().unwrap(),
        name: name.map(String::from),
        window: None,
        filters: crate::model::Filters {
            state: state.map(String::from),
            ..Default::default()
        },
    }
}

/// A fresh target for `q`, as the poller makes one.
fn fresh(q: &Query) -> TargetState {
    TargetState::new(q.clone(), Axis::ALL, &rules(), t0())
}

/// The queries of `campaigns`, discovery when there are none.
fn queries(campaigns: &[Campaign]) -> Vec<Query> {
    if campaigns.is_empty() {
        return vec![Query::Discovery];
    }
    campaigns.iter().cloned().map(Query::Campaign).collect()
}

/// Targets for `campaigns`, polled once with one `sent` record each.
fn polled(campaigns: &[Campaign]) -> Vec<TargetState> {
    let (mut targets, _) = reconcile(Vec::new(), &queries(campaigns), fresh);
    let answers = campaigns
        .iter()
        .map(|c| Ok(tally_of(&c.uuid.to_string(), &["sent"])))
        .collect();
    poll(&mut targets, t0(), answers);
    targets
}

#[test]
fn a_reload_keeps_what_still_holds_and_reads_anew_what_changed() {
    let before = [campaign(A, Some("Old"), None), campaign(B, None, None)];
    let targets = polled(&before);
    // A renamed, B's filter changed, C new.
    const C: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    let after = [
        campaign(A, Some("New"), None),
        campaign(B, None, Some("error")),
        campaign(C, None, None),
    ];
    let (targets, report) = reconcile(targets, &queries(&after), fresh);
    assert_eq!(
        report,
        Reconciled {
            added: vec![C.into()],
            removed: vec![],
            changed: vec![B.into()],
            renamed: vec![A.into()],
        }
    );
    let s = snapshot(&targets);
    let a = &s.campaigns[A];
    assert_eq!(a.name.as_deref(), Some("New"));
    assert!(a.up, "A keeps its health");
    assert_eq!(a.counts.as_ref().map(|c| c.total()), Some(1), "and counts");
    // B and C are read anew: nothing shown of them until then, and the
    // exporter waits for them (not ready, not up).
    for fresh_one in [B, C] {
        assert!(
            !s.campaigns.contains_key(fresh_one),
            "{fresh_one} is read anew"
        );
    }
    assert_eq!(s.waiting, [B, C]);
    assert!(!s.all_read() && s.up == Some(false));
    assert_eq!(targets[1].query, Query::Campaign(after[1].clone()));
}

#[test]
fn a_reload_that_removes_campaigns_drops_their_targets() {
    let targets = polled(&[campaign(A, None, None), campaign(B, None, None)]);
    let (targets, report) = reconcile(targets, &queries(&[campaign(B, None, None)]), fresh);
    assert_eq!(report.removed, vec![A.to_string()]);
    assert!(report.added.is_empty() && report.changed.is_empty());
    let s = snapshot(&targets);
    assert_eq!(s.campaigns.keys().collect::<Vec<_>>(), [B]);
    assert_eq!(s.campaigns[B].counts.as_ref().map(|c| c.total()), Some(1));
}

#[test]
fn discovery_survives_a_reload_and_gives_way_to_configured_campaigns() {
    let (mut targets, _) = reconcile(Vec::new(), &queries(&[]), fresh);
    poll(&mut targets, t0(), vec![Ok(tally_of(A, &["sent"]))]);
    let (targets, report) = reconcile(targets, &queries(&[]), fresh);
    assert!(report.is_empty(), "{report:?}");
    assert!(
        snapshot(&targets).campaigns[A].up,
        "discovery kept its reads"
    );
    let (targets, report) = reconcile(targets, &queries(&[campaign(A, None, None)]), fresh);
    assert_eq!(report.added, vec![A.to_string()]);
    assert_eq!(report.removed, vec!["(discovery)".to_string()]);
    let s = snapshot(&targets);
    assert!(s.campaigns.is_empty() && s.waiting == [A]);
    // And back: the campaigns go, discovery starts afresh.
    let (targets, report) = reconcile(targets, &queries(&[]), fresh);
    assert_eq!(report.removed, vec![A.to_string()]);
    assert_eq!(report.added, vec!["(discovery)".to_string()]);
    assert!(matches!(targets[0].query, Query::Discovery));
}

#[test]
fn a_poll_that_reads_nothing_of_a_target_leaves_it_as_it_was() {
    let mut targets = vec![target(A, None), target(B, None)];
    // A is read (and fails); B gets no read in this poll (no room).
    poll(&mut targets[..1], t0(), vec![failed()]);
    targets[1].record_poll(t0(), t0(), Duration::ZERO, Vec::new(), &rules());
    let s = snapshot(&targets);
    assert_eq!(s.waiting, [B], "B is still waiting for a first read");
    assert_eq!(s.up, Some(false));
    assert!(!s.campaigns[A].up);
    // A's next poll reads nothing of it either: still failing, not up.
    targets[0].record_poll(t0(), t0(), Duration::ZERO, Vec::new(), &rules());
    assert!(!targets[0].up() && targets[0].error().is_some());
}

#[test]
fn a_campaign_too_big_to_read_whole_is_read_by_segments() {
    let segmented = PollRules {
        policy: crate::segments::Policy::new(Duration::from_secs(60), Duration::from_secs(1800)),
        ..rules()
    };
    let mut t = TargetState::new(
        Query::Campaign(campaign(A, None, None)),
        Axis::ALL,
        &segmented,
        t0(),
    );
    t.record_poll(
        t0(),
        t0(),
        Duration::ZERO,
        vec![Answer {
            kind: ReadKind::Whole,
            result: Err(Failure::new(Reason::TooLarge, "over 2 GiB")),
        }],
        &segmented,
    );
    assert!(matches!(t.layout.mode(), crate::segments::Mode::Segmented));
    assert!(t.layout.segment_count() > 1);
    assert!(!t.up() && t.layout.counts().is_none());
}
