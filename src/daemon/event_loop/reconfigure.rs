//! SIGHUP: applying a new configuration to the running instances.

use super::*;

impl Daemon {
    /// SIGHUP: re-read the config; keep the old one if it is invalid.
    pub(super) async fn reload(&mut self, tracker: &mut Tracker) {
        info!(config = %self.config_path.display(), "SIGHUP: reloading configuration");
        if let Err(e) = self.notifier.reloading() {
            warn!("sd_notify RELOADING: {e}");
        }
        self.reload_inner(tracker).await;
        if let Err(e) = self.notifier.ready_with_status(&self.summary()) {
            warn!("sd_notify READY: {e}");
        }
    }

    pub(super) async fn reload_inner(&mut self, tracker: &mut Tracker) {
        let new = match crate::config::load(&self.config_path) {
            Ok(c) => c,
            Err(crate::config::LoadError::Invalid(e)) => {
                warn!(
                    "new configuration is invalid; keeping the running one:\n{}",
                    e.render()
                );
                return;
            }
            Err(e) => {
                warn!("cannot reload, keeping the running configuration: {e}");
                return;
            }
        };
        let verdict = crate::track::vet_programs(&new);
        for w in &verdict.warnings {
            warn!("{w}");
        }
        if !verdict.refused.is_empty() {
            warn!(
                "new configuration refused, keeping the running one: {}",
                verdict.refused.join("; ")
            );
            return;
        }
        // Script results, file values and link states carry over: no priority flap.
        tracker.reload(&new);
        self.seed_tracker(tracker, &new).await;
        let plan = crate::daemon::reload::plan(&self.config.instances, &new.instances);
        // Stop removed instances first so that a re-created one can take over its VIPs.
        let mut stop = plan.stop.clone();
        stop.sort_unstable_by(|a, b| b.cmp(a));
        for &oi in &stop {
            let name = self.config.instances[oi].name.clone();
            let Some(i) = self.routers.iter().position(|r| r.cfg.name == name) else {
                continue;
            };
            info!(vrrp_instance = %name, "reload: stopping instance");
            self.feed(i, Event::Shutdown).await;
            let r = self.routers.remove(i);
            self.core.remove(&name);
            if r.vmac.is_some() {
                if let Err(e) = vmac::remove(&self.nl, r.cfg.vrid, r.cfg.is_ipv6()).await {
                    warn!(vrrp_instance = %r.cfg.name, "{e}");
                }
            }
        }
        self.rebuild_demux();
        for &(_, ni) in &plan.reconfigure {
            let cfg = new.instances[ni].clone();
            let Some(i) = self.routers.iter().position(|r| r.cfg.name == cfg.name) else {
                continue;
            };
            let default = self.routers[i].announce_ifindex;
            let vips = match self.resolve_vips(&cfg, default).await {
                Ok(v) => v,
                Err(e) => {
                    warn!(vrrp_instance = %cfg.name, "reload: keeping the old settings: {e}");
                    continue;
                }
            };
            info!(vrrp_instance = %cfg.name, "reload: applying changed settings");
            let primary = self.inst(i).params().primary;
            let params = params_for(&cfg, primary);
            let r = &mut self.routers[i];
            r.vips = vips;
            r.cfg = cfg;
            self.feed(i, Event::Reconfigure(params)).await;
        }
        for &ni in &plan.start {
            let cfg = new.instances[ni].clone();
            match self.build_router(&cfg).await {
                Ok((r, inst)) => {
                    info!(vrrp_instance = %cfg.name, "reload: starting instance");
                    self.routers.push(r);
                    self.core.insert(inst);
                    self.rebuild_demux();
                    let i = self.routers.len() - 1;
                    self.start_one(i, tracker).await;
                }
                Err(e) => warn!(vrrp_instance = %cfg.name, "reload: cannot start: {e}"),
            }
        }
        // Unchanged groups keep their coordinators' state, so they do not re-run actions.
        if new.sync_groups != self.config.sync_groups {
            self.core.set_groups(sync::coordinators(&new.sync_groups));
            let old = std::mem::take(&mut self.groups);
            self.groups = new
                .sync_groups
                .iter()
                .cloned()
                .map(|cfg| {
                    let mut g = sync::Group::new(cfg);
                    if let Some(o) = old.iter().find(|o| o.cfg.name == g.cfg.name) {
                        g.reported = o.reported;
                    }
                    g
                })
                .collect();
        }
        self.write_status();
        self.config = new;
    }
}
