//! Property tests over a deterministic simulation of 2..=5 VRRP routers on a
//! virtual LAN (see `tests/sim/mod.rs`): random priorities, track weights,
//! intervals, versions, address families, packet delays, loss, partitions and
//! fault schedules.
//!
//! Default case counts (256 for properties 1-3, 32 for property 4, which
//! simulates 10 000 intervals per case) keep the file at about 5 s of CPU in a
//! debug build; `VRRP_SIM_CASES=N` sets every property's case count (property
//! 4 costs about 0.2 s per case).
//! A failure prints the seed, the spec and the last trace lines; proptest also
//! prints the minimal failing input. `PROPTEST_RNG_SEED` fixes proptest's own
//! input generation to replay a run.

mod sim;

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use sim::{mdi_of, rfc_skew, LanSpec, Op, RouterSpec, Sim};
use vrrp_ha::core::instance::{effective_priority, State};
use vrrp_ha::core::packet::Version;
use vrrp_ha::core::time::Instant;

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("VRRP_SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // Every case is a whole simulation: keep shrinking bounded.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

fn eff(spec: &LanSpec, i: usize) -> u8 {
    effective_priority(spec.routers[i].priority, spec.routers[i].delta)
}

fn distinct_priorities(spec: &LanSpec) -> bool {
    let mut p: Vec<u8> = (0..spec.routers.len()).map(|i| eff(spec, i)).collect();
    p.sort_unstable();
    p.windows(2).all(|w| w[0] != w[1])
}

/// A random LAN. `tie_prone` draws priorities from 99..=101 so that equal
/// effective priorities (address tie-breaks) are common.
fn lan(distinct: bool) -> impl Strategy<Value = LanSpec> {
    (
        2usize..=5,
        any::<bool>(),
        any::<bool>(),
        0u16..1000,
        prop::bool::weighted(0.2),
        any::<bool>(),
        0u32..=50,
        any::<u64>(),
    )
        .prop_flat_map(
            move |(n, v3, ipv6, ipick, owner, tie_prone, delay_pm, seed)| {
                let prios = if tie_prone && !distinct {
                    vec(99u8..=101, n).boxed()
                } else {
                    vec(1u8..=254, n).boxed()
                };
                let deltas = if tie_prone && !distinct {
                    vec(-1i32..=1, n).boxed()
                } else {
                    vec(-20i32..=20, n).boxed()
                };
                (prios, deltas).prop_map(move |(prios, deltas)| {
                    let version = if v3 { Version::V3 } else { Version::V2 };
                    let interval_cs = match version {
                        Version::V2 => 100 * (1 + ipick % 3),
                        Version::V3 => 5 + ipick % 296,
                    };
                    let routers = prios
                        .iter()
                        .zip(&deltas)
                        .enumerate()
                        .map(|(i, (&p, &d))| RouterSpec {
                            priority: if owner && i == 0 { 255 } else { p },
                            delta: d,
                        })
                        .collect();
                    let interval = Duration::from_millis(u64::from(interval_cs) * 10);
                    LanSpec {
                        version,
                        ipv6: ipv6 && v3,
                        interval_cs,
                        routers,
                        max_delay: interval * delay_pm / 1000,
                        seed,
                    }
                })
            },
        )
        .prop_filter("distinct effective priorities", move |s| {
            !distinct || distinct_priorities(s)
        })
}

fn fail(sim: &Sim, what: &str) -> TestCaseError {
    TestCaseError::fail(sim.report(what))
}

/// Start every router (staggered by `starts`, permille of two intervals,
/// unless the top priority is tied: a Backup accepts an equal-priority master
/// (RFC 9568 section 6.4.2), so the address tie-break only decides between
/// routers that claim Master together) and run until the election must be over.
fn start(spec: &LanSpec, starts: &[u32]) -> (Sim, Instant) {
    let mut sim = Sim::new(spec.clone());
    let n = spec.routers.len();
    let top = (0..n).map(|i| eff(spec, i)).max().unwrap_or(0);
    let tied = (0..n).filter(|&i| eff(spec, i) == top).count() > 1;
    let mut last = Instant::ZERO;
    for (r, &permille) in starts.iter().enumerate().take(n) {
        let at = if tied {
            Instant::ZERO
        } else {
            Instant::ZERO + spec.interval() * 2 * permille / 1000
        };
        last = last.max(at);
        sim.at(at, Op::Start(r));
    }
    // The best router claims Master at the latest one Master_Down_Interval
    // after it starts; everybody hears it one delay later.
    let settle = last + spec.max_mdi() * 2 + spec.interval() + spec.max_delay;
    sim.run(settle);
    (sim, settle)
}

fn exactly(sim: &Sim, want: usize, what: &str) -> Result<(), String> {
    let m = sim.masters();
    if m == [want] {
        Ok(())
    } else {
        Err(sim.report(&format!(
            "{what}: masters {m:?}, expected exactly [r{want}]"
        )))
    }
}

fn steady_state(spec: LanSpec, starts: Vec<u32>) -> Result<(), TestCaseError> {
    let (mut sim, settle) = start(&spec, &starts);
    let want = sim
        .expected_master()
        .ok_or_else(|| fail(&sim, "no eligible router"))?;
    exactly(&sim, want, "after settling").map_err(TestCaseError::fail)?;
    let end = settle + spec.interval() * 20;
    sim.run_until(end, |s| exactly(s, want, "steady state"))
        .map_err(TestCaseError::fail)
}

fn master_dies(
    spec: LanSpec,
    starts: Vec<u32>,
    kill_pm: u32,
    graceful: bool,
) -> Result<(), TestCaseError> {
    let (mut sim, settle) = start(&spec, &starts);
    let dead = sim
        .expected_master()
        .ok_or_else(|| fail(&sim, "no eligible router"))?;
    exactly(&sim, dead, "before the crash").map_err(TestCaseError::fail)?;
    let t_kill = settle + spec.interval() * kill_pm / 1000;
    sim.at(
        t_kill,
        if graceful {
            Op::Shutdown(dead)
        } else {
            Op::Crash(dead)
        },
    );
    sim.run(t_kill);
    let t_last = sim.routers[dead]
        .last_sent
        .ok_or_else(|| fail(&sim, "the master never advertised"))?;
    let next = sim
        .expected_master()
        .ok_or_else(|| fail(&sim, "no eligible backup"))?;
    // The successor's Master_Down_Timer was last armed when the dead
    // master's last advert reached it: within [0, max_delay] after t_last,
    // to Master_Down_Interval; or to Skew_Time after a priority-0 advert
    // sent on shutdown (RFC 9568 section 6.4.2).
    let lo = if graceful {
        t_kill + rfc_skew(spec.version, sim.routers[next].priority(), spec.interval_cs)
    } else {
        t_last + mdi_of(&sim, next)
    };
    let hi = lo + spec.max_delay;
    sim.run(hi);
    let took_over = sim
        .changes
        .iter()
        .find(|c| c.router == next && c.to == State::Master && c.at > t_kill)
        .map(|c| c.at);
    match took_over {
        Some(t) if t >= lo && t <= hi => {}
        other => {
            return Err(fail(
                &sim,
                &format!(
                    "r{next} should take over in [{lo:?}, {hi:?}] (r{dead} {} at {t_kill:?}, last advert at {t_last:?}), took over at {other:?}",
                    if graceful { "shut down" } else { "crashed" }
                ),
            ))
        }
    }
    // Lower backups may have claimed Master within the delay jitter; they
    // hear the successor one delay later at most. After a shutdown, the
    // priority-0 advert may also reach a backup after the successor's first
    // advert (packets of different senders can cross): RFC 9568 section 6.4.2
    // then has it claim Master after its own Skew_Time; the successor answers
    // its lower advert at once (section 6.4.3), so it yields two delays later.
    let stable = if graceful {
        let stale = t_kill + spec.max_delay + rfc_skew(spec.version, 1, spec.interval_cs);
        hi.max(stale) + spec.max_delay * 2
    } else {
        hi + spec.max_delay
    };
    sim.run(stable);
    let end = stable + spec.interval() * 10;
    exactly(&sim, next, "after the takeover").map_err(TestCaseError::fail)?;
    sim.run_until(end, |s| exactly(s, next, "after the takeover"))
        .map_err(TestCaseError::fail)
}

/// One fault in the partition window: (kind, router, start, length), the
/// last two in permille of half the window.
type Fault = (u8, usize, u32, u32);

fn partition_heals(
    spec: LanSpec,
    starts: Vec<u32>,
    groups: Vec<u32>,
    window_pm: u32,
    loss_pm: u32,
    faults: Vec<Fault>,
) -> Result<(), TestCaseError> {
    let n = spec.routers.len();
    let (mut sim, settle) = start(&spec, &starts);
    let mut groups: Vec<u32> = groups[..n].to_vec();
    if groups.iter().all(|&g| g == groups[0]) {
        groups[0] ^= 1;
    }
    let mdi = spec.max_mdi();
    let t_part = settle;
    // Long enough for each side to settle its own election.
    let window = mdi * 3 + mdi * 3 * window_pm / 1000;
    let t_heal = t_part + window;
    sim.at(t_part, Op::Partition(groups));
    sim.at(t_part, Op::Loss(f64::from(loss_pm) / 1000.0));
    let half = window / 2;
    for (k, &(kind, r, s, l)) in faults.iter().enumerate() {
        let r = r % n;
        let begin = t_part + half * s / 1000;
        // Every fault is over before the heal.
        let last_moment = Instant::from_origin(t_heal.since_origin() - Duration::from_millis(1));
        let end = (begin + half * l / 1000).min(last_moment);
        match kind % 4 {
            0 => {
                sim.at(begin, Op::LinkDown(r));
                sim.at(end, Op::LinkUp(r));
            }
            1 => {
                sim.at(begin, Op::TrackFault(r, true));
                sim.at(end, Op::TrackFault(r, false));
            }
            2 => {
                sim.at(begin, Op::Crash(r));
                sim.at(end, Op::Restart(r));
            }
            _ => {
                let delta =
                    (i32::try_from(s % 61).unwrap_or(0) - 30) + i32::try_from(k).unwrap_or(0);
                sim.at(begin, Op::Weight(r, delta));
            }
        }
    }
    sim.at(t_heal, Op::Heal);
    sim.at(t_heal, Op::Loss(0.0));
    // Within Master_Down_Interval + one advert interval (+ one delay) of the
    // heal there must be exactly one Master, the best router.
    let bound = t_heal + mdi + spec.interval() + spec.max_delay;
    sim.run(bound);
    let want = sim
        .expected_master()
        .ok_or_else(|| fail(&sim, "no eligible router"))?;
    exactly(&sim, want, "after the heal").map_err(TestCaseError::fail)?;
    let end = bound + spec.interval() * 10;
    sim.run_until(end, |s| exactly(s, want, "after the heal"))
        .map_err(TestCaseError::fail)
}

fn no_flaps(spec: LanSpec, starts: Vec<u32>) -> Result<(), TestCaseError> {
    let (mut sim, settle) = start(&spec, &starts);
    let before = sim.changes.len();
    let end = settle + spec.interval() * 10_000;
    sim.run(end);
    if sim.changes.len() != before {
        let c = &sim.changes[before];
        return Err(fail(
            &sim,
            &format!(
                "{} transitions over 10 000 intervals without faults; first: r{} {} -> {} at {:?}",
                sim.changes.len() - before,
                c.router,
                c.from,
                c.to,
                c.at
            ),
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// (1) In steady state there is exactly one Master: the highest effective
    /// priority, ties broken by the higher address.
    #[test]
    fn steady_state_one_master_highest_priority(
        spec in lan(false),
        starts in vec(0u32..=1000, 5),
    ) {
        steady_state(spec, starts)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// (2) When the Master dies, the best backup is Master within its
    /// Master_Down_Interval (plus the packet delay) of the dead master's last
    /// advert, not earlier, and stays the only Master. On a graceful shutdown
    /// (priority 0) the bound is Skew_Time instead.
    #[test]
    fn master_death_best_backup_takes_over_in_time(
        spec in lan(true),
        starts in vec(0u32..=1000, 5),
        kill_pm in 0u32..1000,
        graceful in any::<bool>(),
    ) {
        master_dies(spec, starts, kill_pm, graceful)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// (3) After a partition (with loss, crashes, link flaps, track faults and
    /// weight changes inside it) heals, exactly one Master within
    /// Master_Down_Interval + one advert interval.
    #[test]
    fn partition_heal_one_master_within_bound(
        spec in lan(true),
        starts in vec(0u32..=1000, 5),
        groups in vec(0u32..2, 5),
        window_pm in 0u32..=1000,
        loss_pm in 0u32..=300,
        faults in vec((0u8..4, 0usize..5, 0u32..=1000, 0u32..=1000), 0..=3),
    ) {
        partition_heals(spec, starts, groups, window_pm, loss_pm, faults)?;
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// (4) Without faults, no transition at all over 10 000 advert intervals.
    #[test]
    fn no_transition_over_10000_intervals(
        spec in lan(false),
        starts in vec(0u32..=1000, 5),
    ) {
        no_flaps(spec, starts)?;
    }
}

/// The simulation is deterministic: the same spec and seed give the same run.
#[test]
fn same_seed_same_run() {
    let spec = LanSpec {
        version: Version::V3,
        ipv6: false,
        interval_cs: 20,
        routers: vec![
            RouterSpec {
                priority: 100,
                delta: 0,
            },
            RouterSpec {
                priority: 150,
                delta: 0,
            },
            RouterSpec {
                priority: 120,
                delta: 0,
            },
        ],
        max_delay: Duration::from_millis(10),
        seed: 42,
    };
    let run = || {
        let mut sim = Sim::new(spec.clone());
        for r in 0..3 {
            sim.at(Instant::ZERO, Op::Start(r));
        }
        sim.at(Instant::from_millis(500), Op::Loss(0.3));
        sim.at(Instant::from_millis(3000), Op::Crash(1));
        sim.run(Instant::from_millis(10_000));
        (sim.trace(), sim.handled())
    };
    let (a, n) = run();
    let (b, m) = run();
    assert_eq!(n, m);
    assert_eq!(a, b);
}
