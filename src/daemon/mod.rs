//! The daemon: a tokio event loop driving the pure core and carrying out its actions.
