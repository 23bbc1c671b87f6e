//! Tracked interfaces: initial state from the kernel, then link events.

use std::time::Duration;

use vrrp_ha::config::TrackInterface;
use vrrp_ha::track::{InstanceTracks, TrackSpec, Tracker};

fn spec(ifaces: &[(&str, i32)]) -> TrackSpec {
    TrackSpec {
        instances: vec![InstanceTracks {
            name: "VI_1".into(),
            interfaces: ifaces
                .iter()
                .map(|(n, w)| TrackInterface {
                    name: n.to_string(),
                    weight: *w,
                })
                .collect(),
            ..Default::default()
        }],
        scripts: vec![],
    }
}

#[tokio::test]
async fn weights_follow_link_events() {
    // "lo" is up everywhere; the other name exists nowhere, so it starts down.
    let (tracker, mut rx) = Tracker::spawn_spec(spec(&[("lo", 5), ("vhnolink0", -10)]));
    assert_eq!(tracker.initial("VI_1"), (5 - 10, false));

    tracker.link_changed("vhnolink0", true);
    let u = rx.try_recv().expect("update sent synchronously");
    assert_eq!((u.delta, u.fault), (5, false), "{u:?}");
    assert_eq!(u.reason, "interface vhnolink0 up");

    // Repeating the same state sends nothing.
    tracker.link_changed("vhnolink0", true);
    assert!(rx.try_recv().is_err());

    tracker.link_changed("lo", false);
    let u = rx.try_recv().expect("update");
    assert_eq!((u.delta, u.fault), (0, false), "{u:?}");

    // An interface nobody tracks changes nothing.
    tracker.link_changed("eth77", false);
    assert!(rx.try_recv().is_err());
    assert!(tokio::time::timeout(Duration::from_millis(50), rx.recv())
        .await
        .is_err());
}

#[tokio::test]
async fn weight_zero_down_is_fault() {
    let (tracker, mut rx) = Tracker::spawn_spec(spec(&[("vhnolink1", 0)]));
    assert_eq!(tracker.initial("VI_1"), (0, true));
    tracker.link_changed("vhnolink1", true);
    let u = rx.try_recv().expect("update");
    assert_eq!((u.delta, u.fault), (0, false));
    tracker.link_changed("vhnolink1", false);
    let u = rx.try_recv().expect("update");
    assert_eq!((u.delta, u.fault), (0, true));
    assert_eq!(tracker.initial("VI_1"), (0, true));
    assert_eq!(tracker.initial("unknown"), (0, false));
}
