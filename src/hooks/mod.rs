//! Transition actions: systemd units over D-Bus, `exec` argv, keepalived-style `notify`.
