//! What tracking tells an instance: the priority delta, whether it must be in Fault,
//! and each tracked item's part of that, so that reasons and status can name them.
//!
//! The shell's tracker runs the scripts, watches the files and follows the links; it
//! aggregates with keepalived's weight rules and hands the result in as
//! [`Tracking`]. The core only adds the delta to the priority, enters or leaves Fault,
//! and keeps the items for its report.

use std::fmt;

/// The tracking aggregate of one instance, with its parts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracking {
    /// Sum of the weights in effect, added to the configured priority.
    pub delta: i32,
    /// A weight-0 item fails: the instance must be in Fault.
    pub fault: bool,
    /// Each tracked item and what it contributes (empty when the caller has no detail).
    pub items: Vec<Contribution>,
}

/// The kind of a tracked item.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackKind {
    /// A `track-script`.
    Script,
    /// A `track-interface`.
    Interface,
    /// A `track-file`.
    File,
}

/// What a tracked item currently reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ItemState {
    /// A script with no result yet.
    Init,
    /// A script that succeeds.
    Good,
    /// A script that fails.
    Bad,
    /// An interface that is up (IFF_UP and IFF_RUNNING).
    Up,
    /// An interface that is down or absent.
    Down,
    /// A file's value.
    Value(i64),
}

/// One tracked item's part in an instance's priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// Script, interface or file.
    pub kind: TrackKind,
    /// The script name, interface name or file path.
    pub name: String,
    /// The weight in effect for this instance.
    pub weight: i32,
    /// What it adds to the priority now.
    pub delta: i32,
    /// Whether it puts the instance in Fault now.
    pub fault: bool,
    /// What it reports.
    pub state: ItemState,
}

impl TrackKind {
    /// The config keyword's noun: `script`, `interface`, `file`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TrackKind::Script => "script",
            TrackKind::Interface => "interface",
            TrackKind::File => "file",
        }
    }
}

impl fmt::Display for TrackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemState::Init => f.write_str("init"),
            ItemState::Good => f.write_str("good"),
            ItemState::Bad => f.write_str("failing"),
            ItemState::Up => f.write_str("up"),
            ItemState::Down => f.write_str("down"),
            ItemState::Value(v) => write!(f, "value {v}"),
        }
    }
}

impl Contribution {
    /// `script nginx`, `interface eth1`, `file /run/weight`: how reasons name it.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

impl Tracking {
    /// The first item that holds the instance in Fault, named for the reason text.
    pub fn fault_label(&self) -> Option<String> {
        self.items.iter().find(|c| c.fault).map(Contribution::label)
    }
}
