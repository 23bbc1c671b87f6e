//! Tracking: scripts, interfaces and files that move an instance's effective priority.
