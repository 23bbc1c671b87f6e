//! Why an instance or a sync group changed state, typed up to the edges.
//!
//! The core decides with these values and hands them out in its actions; the text is
//! rendered only where a person reads it (the journal's `VRRP_REASON=`, hooks, status).
//! The renderings are stable: scenario files, hooks and operators' journal queries
//! match on them.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::instance::State;

/// Why an instance changed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Startup into Backup (RFC 9568 section 6.4.1).
    Startup,
    /// Startup of the address owner straight into Master.
    StartupOwner,
    /// Startup into Fault: the instance's own cause holds it there.
    StartupFault(FaultCause),
    /// Shutdown (priority 0 sent when Master).
    Shutdown,
    /// Into Fault for a cause of the instance's own.
    Fault(FaultCause),
    /// Out of Fault, a fresh election; `owner` when the address owner went straight to Master.
    Recovered {
        /// What ended the fault.
        cause: RecoveryCause,
        /// The address owner (priority 255) became Master at once.
        owner: bool,
    },
    /// Master yields to a higher priority (RFC 9568 section 6.4.3).
    HigherPriority {
        /// The other router's priority.
        priority: u8,
        /// The other router.
        src: IpAddr,
    },
    /// Master yields to an equal priority from a higher address (RFC 9568 section 6.4.3).
    EqualPriorityHigherAddress {
        /// The other router.
        src: IpAddr,
    },
    /// Master_Down_Timer fired in Backup (RFC 9568 section 6.4.2).
    MasterDown(MasterDown),
    /// Master_Down_Timer fired in Backup and the witnesses, asked first, did not object.
    MasterDownWitness {
        /// Why the timer fired.
        down: MasterDown,
        /// What the witnesses said.
        verdict: WitnessVerdict,
    },
    /// keepalived's preempt_delay ran out with the lower master still there.
    PreemptDelayElapsed {
        /// The configured delay.
        delay: Duration,
        /// Our effective priority.
        ours: u8,
        /// The lower master's priority.
        theirs: u8,
        /// The lower master.
        src: IpAddr,
    },
    /// A sync group moved this member.
    Sync(SyncReason),
    /// The operator drained the instance (`vrrp-ha drain`): it hands over and stays BACKUP.
    Drained,
}

/// What put an instance in Fault by a cause of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultCause {
    /// Its interface is down.
    InterfaceDown,
    /// A weight-0 track fails; the name of the tracked item when the shell told it.
    Track(Option<String>),
    /// A MASTER could not install (or put back) one of its VIPs.
    Vip {
        /// The VIP, `192.0.2.200/24`.
        vip: String,
        /// What the system said.
        error: String,
    },
}

/// What took an instance out of Fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryCause {
    /// Its interface came up.
    InterfaceUp,
    /// No weight-0 track fails any more; the one that did, when known.
    Track(Option<String>),
    /// Its sync group no longer holds it.
    Sync(SyncReason),
    /// The back-off after a VIP that could not be installed ran out: try again.
    VipRetry {
        /// How long it waited.
        after: Duration,
    },
}

/// Why Master_Down_Timer fired, for the reason text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterDown {
    /// We had discarded a lower-priority master to preempt it.
    Preempting {
        /// Its priority.
        priority: u8,
        /// The lower master.
        src: IpAddr,
    },
    /// The master resigned with priority 0 this long ago.
    Resigned {
        /// The master.
        src: IpAddr,
        /// Time since its priority-0 advert.
        ago: Duration,
    },
    /// The master went silent this long ago.
    Silent {
        /// The master.
        src: IpAddr,
        /// Time since its last advert.
        ago: Duration,
    },
    /// No master was ever heard since entering Backup.
    NeverHeard {
        /// Time in Backup.
        waited: Duration,
    },
}

/// What the witnesses said before a BACKUP took over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessVerdict {
    /// Every witness that answered had listened long enough and heard no other MASTER.
    Agreed {
        /// How many such answers came.
        answered: usize,
        /// How many witnesses were asked.
        asked: usize,
        /// From the question to the decision.
        after: Duration,
    },
    /// No witness that had listened for a whole Master_Down_Interval answered in time:
    /// `witness-policy "available"` takes over as VRRP says.
    NoAnswer {
        /// How long the BACKUP waited.
        waited: Duration,
        /// Witnesses that answered but had only just started listening.
        uninformed: usize,
    },
}

/// Why a BACKUP whose Master_Down_Timer fired stays BACKUP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessHold {
    /// A witness still hears another MASTER: it is alive, only unreachable from here.
    PeerAlive {
        /// The MASTER the witness hears.
        src: IpAddr,
        /// Its priority.
        priority: u8,
        /// How long before the answer the witness heard it.
        ago: Duration,
    },
    /// No witness answered in time and `witness-policy` is strict.
    NoAnswerStrict {
        /// How long the BACKUP waited.
        waited: Duration,
        /// Witnesses that answered but had only just started listening.
        uninformed: usize,
    },
}

/// A sync group's command to one member, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncReason {
    /// Another member changed state (became Master, or fell from Master to Backup).
    Follow {
        /// The group.
        group: String,
        /// The member that moved.
        member: String,
        /// Where it moved to.
        to: State,
    },
    /// Another member is in Fault by a cause of its own.
    Held {
        /// The group.
        group: String,
        /// The member in Fault.
        cause: String,
    },
    /// No other member is in Fault any more.
    Released {
        /// The group.
        group: String,
    },
    /// A reload removed the group that held this member.
    GroupRemoved {
        /// The group.
        group: String,
    },
}

fn ms(d: &Duration) -> u128 {
    d.as_millis()
}

impl fmt::Display for FaultCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultCause::InterfaceDown => f.write_str("interface down"),
            FaultCause::Track(None) => f.write_str("track weight-0 failing"),
            FaultCause::Track(Some(what)) => write!(f, "track weight-0 failing: {what}"),
            FaultCause::Vip { vip, error } => write!(f, "cannot install virtual IP {vip}: {error}"),
        }
    }
}

impl fmt::Display for RecoveryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryCause::InterfaceUp => f.write_str("interface up"),
            RecoveryCause::Track(None) => f.write_str("track weight-0 recovered"),
            RecoveryCause::Track(Some(what)) => write!(f, "track weight-0 recovered: {what}"),
            RecoveryCause::Sync(s) => s.fmt(f),
            RecoveryCause::VipRetry { after } => write!(
                f,
                "retrying the virtual IPs after {} ms (taking over only from a silent master)",
                ms(after)
            ),
        }
    }
}

impl fmt::Display for MasterDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterDown::Preempting { priority, src } => {
                write!(f, "preempting lower priority {priority} from {src}")
            }
            MasterDown::Resigned { src, ago } => {
                write!(f, "{src} resigned (priority 0) {} ms ago", ms(ago))
            }
            MasterDown::Silent { src, ago } => {
                write!(f, "no advert from {src} for {} ms", ms(ago))
            }
            MasterDown::NeverHeard { waited } => write!(f, "no advert for {} ms", ms(waited)),
        }
    }
}

/// Witnesses waited for, in the unit that shows a round trip on a LAN.
fn us(d: &Duration) -> u128 {
    d.as_micros()
}

/// "no witness answered within W µs", or why the answers that came could not tell.
fn no_answer(f: &mut fmt::Formatter<'_>, waited: &Duration, uninformed: usize) -> fmt::Result {
    match uninformed {
        0 => write!(f, "no witness answered within {} µs", us(waited)),
        n => write!(
            f,
            "no witness could tell within {} µs ({n} answered but had listened for less than \
             Master_Down_Interval)",
            us(waited)
        ),
    }
}

impl fmt::Display for WitnessVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WitnessVerdict::Agreed {
                answered,
                asked,
                after,
            } => write!(
                f,
                "witness agreed: {answered} of {asked} heard no other MASTER (answered in {} µs)",
                us(after)
            ),
            WitnessVerdict::NoAnswer { waited, uninformed } => {
                no_answer(f, waited, *uninformed)?;
                f.write_str(", taking over as VRRP says (witness-policy available)")
            }
        }
    }
}

impl fmt::Display for WitnessHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WitnessHold::PeerAlive { src, priority, ago } => write!(
                f,
                "peer alive but unreachable from here: a witness heard {src} as MASTER \
                 (priority {priority}) {} ms ago; staying BACKUP",
                ms(ago)
            ),
            WitnessHold::NoAnswerStrict { waited, uninformed } => {
                no_answer(f, waited, *uninformed)?;
                f.write_str(" and witness-policy is strict: staying BACKUP")
            }
        }
    }
}

impl fmt::Display for SyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncReason::Follow { group, member, to } => {
                write!(f, "sync group {group}: {member} became {to}")
            }
            SyncReason::Held { group, cause } => write!(f, "sync group {group}: {cause} is FAULT"),
            SyncReason::Released { group } => {
                write!(f, "sync group {group}: no other member is FAULT any more")
            }
            SyncReason::GroupRemoved { group } => {
                write!(f, "sync group {group} removed by a reload")
            }
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("startup"),
            Reason::StartupOwner => f.write_str("startup as address owner (priority 255)"),
            Reason::StartupFault(cause) => write!(f, "startup: {cause}"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::Fault(cause) => cause.fmt(f),
            Reason::Recovered { cause, owner } => {
                cause.fmt(f)?;
                if *owner {
                    f.write_str(": address owner (priority 255)")?;
                }
                Ok(())
            }
            Reason::HigherPriority { priority, src } => {
                write!(f, "higher priority {priority} from {src}")
            }
            Reason::EqualPriorityHigherAddress { src } => {
                write!(f, "equal priority, higher address {src}")
            }
            Reason::MasterDown(m) => write!(f, "master down timer expired: {m}"),
            Reason::MasterDownWitness { down, verdict } => {
                write!(f, "master down timer expired: {down}; {verdict}")
            }
            Reason::PreemptDelayElapsed {
                delay,
                ours,
                theirs,
                src,
            } => write!(
                f,
                "preempt delay of {} ms elapsed: priority {ours} beats {theirs} from {src}",
                ms(delay)
            ),
            Reason::Sync(s) => s.fmt(f),
            Reason::Drained => f.write_str("drained by the operator"),
        }
    }
}

/// Why a sync group as a whole changed state: one member's transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupReason {
    /// The member whose move changed the group's state.
    pub member: String,
    /// Where the member moved.
    pub to: State,
    /// Why it moved.
    pub reason: Reason,
}

impl fmt::Display for GroupReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.member, self.to, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderings_are_stable() {
        let src: IpAddr = "192.0.2.5".parse().expect("literal");
        let cases: Vec<(Reason, &str)> = vec![
            (Reason::Startup, "startup"),
            (
                Reason::StartupFault(FaultCause::Track(None)),
                "startup: track weight-0 failing",
            ),
            (
                Reason::Recovered {
                    cause: RecoveryCause::InterfaceUp,
                    owner: true,
                },
                "interface up: address owner (priority 255)",
            ),
            (
                Reason::Fault(FaultCause::Track(Some("script nginx".into()))),
                "track weight-0 failing: script nginx",
            ),
            (
                Reason::MasterDown(MasterDown::Silent {
                    src,
                    ago: Duration::from_millis(3609),
                }),
                "master down timer expired: no advert from 192.0.2.5 for 3609 ms",
            ),
            (
                Reason::Sync(SyncReason::Follow {
                    group: "G1".into(),
                    member: "VI_1".into(),
                    to: State::Master,
                }),
                "sync group G1: VI_1 became MASTER",
            ),
            (
                Reason::MasterDownWitness {
                    down: MasterDown::Silent {
                        src,
                        ago: Duration::from_millis(365),
                    },
                    verdict: WitnessVerdict::Agreed {
                        answered: 1,
                        asked: 1,
                        after: Duration::from_micros(412),
                    },
                },
                "master down timer expired: no advert from 192.0.2.5 for 365 ms; witness \
                 agreed: 1 of 1 heard no other MASTER (answered in 412 µs)",
            ),
            (
                Reason::MasterDownWitness {
                    down: MasterDown::NeverHeard {
                        waited: Duration::from_millis(365),
                    },
                    verdict: WitnessVerdict::NoAnswer {
                        waited: Duration::from_millis(5),
                        uninformed: 0,
                    },
                },
                "master down timer expired: no advert for 365 ms; no witness answered within \
                 5000 µs, taking over as VRRP says (witness-policy available)",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
        let holds = [
            (
                WitnessHold::PeerAlive {
                    src,
                    priority: 100,
                    ago: Duration::from_millis(37),
                },
                "peer alive but unreachable from here: a witness heard 192.0.2.5 as MASTER \
                 (priority 100) 37 ms ago; staying BACKUP",
            ),
            (
                WitnessHold::NoAnswerStrict {
                    waited: Duration::from_millis(5),
                    uninformed: 1,
                },
                "no witness could tell within 5000 µs (1 answered but had listened for less \
                 than Master_Down_Interval) and witness-policy is strict: staying BACKUP",
            ),
        ];
        for (hold, text) in holds {
            assert_eq!(hold.to_string(), text);
        }
    }
}
