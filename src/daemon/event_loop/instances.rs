//! Building instances: interfaces, addresses, sockets and vmacs resolved for each, then started.

use super::*;

pub(super) fn instance_err(cfg: &config::Instance, problem: impl Into<String>) -> DaemonError {
    DaemonError::Instance {
        instance: cfg.name.clone(),
        problem: problem.into(),
    }
}

impl Daemon {
    pub(super) async fn build(
        config_path: &Path,
        config: &Config,
        nl: Netlink,
        pkt_tx: mpsc::Sender<(usize, Received)>,
    ) -> Result<Daemon, DaemonError> {
        let mut d = Daemon {
            core: CoreRouter::new(Vec::new(), sync::coordinators(&config.sync_groups)),
            config_path: config_path.to_path_buf(),
            config: config.clone(),
            by_iface: HashMap::new(),
            pkt_tx,
            clock: Clock {
                origin: TokioInstant::now(),
            },
            nl,
            l2: None,
            sockets: Vec::new(),
            receivers: Vec::new(),
            arp_quieted: HashSet::new(),
            demux: Vec::new(),
            unknown_vrid: Vec::new(),
            routers: Vec::new(),
            link_up: HashMap::new(),
            state_file: status::state_file(config_path),
            l2_log: RateLimit::default(),
            hooks: Runner::spawn(RunnerOptions::default()),
            pending_hooks: Vec::new(),
            notifier: Notifier::from_env(),
            stopping: false,
            arp_saved: HashMap::new(),
            groups: config
                .sync_groups
                .iter()
                .cloned()
                .map(sync::Group::new)
                .collect(),
        };
        match L2Socket::open() {
            Ok(s) => d.l2 = Some(s),
            Err(e) => warn!("gratuitous ARP / NA disabled: {e}"),
        }
        for cfg in &config.instances {
            let (router, inst) = d.build_router(cfg).await?;
            d.routers.push(router);
            d.core.insert(inst);
        }
        d.rebuild_demux();
        Ok(d)
    }

    pub(super) fn rebuild_demux(&mut self) {
        for m in &mut self.demux {
            m.clear();
        }
        for (i, r) in self.routers.iter().enumerate() {
            self.demux[r.sock].entry(r.cfg.vrid).or_default().push(i);
        }
    }

    pub(super) async fn build_router(
        &mut self,
        cfg: &config::Instance,
    ) -> Result<(Router, Instance), DaemonError> {
        let ipv6 = cfg.is_ipv6();
        let family = if ipv6 { Family::V6 } else { Family::V4 };
        let link = self.nl.link_by_name(&cfg.interface).await?;
        self.link_up.insert(link.index, link.up);
        // A down link has no link-local address yet: start (in Fault) with none and learn
        // it from the address events once the link is up.
        let wait = if link.up {
            LINK_LOCAL_WAIT
        } else {
            Duration::ZERO
        };
        let primary = match self.resolve_primary(cfg, link.index, wait).await? {
            Some(a) => a,
            None if ipv6 => {
                warn!(vrrp_instance = %cfg.name, interface = %cfg.interface,
                    "no usable IPv6 link-local address yet; waiting for one");
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            }
            None => {
                return Err(instance_err(
                    cfg,
                    format!(
                    "interface {} has no IPv4 address to send adverts from (set unicast-source)",
                    cfg.interface
                ),
                ))
            }
        };

        let sock = match self.by_iface.get(&(cfg.interface.clone(), family)) {
            Some(&i) => i,
            None => {
                let s = Arc::new(VrrpSocket::open(family, &cfg.interface, link.index)?);
                let i = self.sockets.len();
                self.sockets.push(s.clone());
                self.receivers
                    .push(spawn_receiver(i, s, self.pkt_tx.clone()));
                self.demux.push(HashMap::new());
                self.unknown_vrid.push((0, RateLimit::default()));
                self.by_iface.insert((cfg.interface.clone(), family), i);
                i
            }
        };

        let a = self.attach(cfg, &link).await?;
        let vips = self.resolve_vips(cfg, a.ifindex).await?;

        let router = Router {
            cfg: cfg.clone(),
            sock,
            send_sock: a.send_sock,
            ifindex: link.index,
            announce_ifindex: a.ifindex,
            announce_mac: a.mac,
            vmac: a.vmac,
            vips,
            installed: Vec::new(),
            replacing_vips: false,
            timers: BTreeMap::new(),
            next_burst: None,
            drop_log: RateLimit::default(),
            mismatch_log: RateLimit::default(),
            send_log: RateLimit::default(),
            rx_errors: HashMap::new(),
            primary_pending: false,
        };
        Ok((router, Instance::new(params_for(cfg, primary))))
    }

    /// The address adverts go out from: `unicast-source`, else the interface's primary
    /// IPv4 address or usable IPv6 link-local one, waiting up to `wait` for one to leave
    /// DAD (`None`: there is none yet).
    pub(super) async fn resolve_primary(
        &self,
        cfg: &config::Instance,
        ifindex: u32,
        wait: Duration,
    ) -> Result<Option<IpAddr>, DaemonError> {
        if let Some(a) = cfg.unicast_source {
            return Ok(Some(a));
        }
        let vip_addrs: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
        if cfg.is_ipv6() {
            let ll = self.wait_link_local(ifindex, &vip_addrs, wait).await?;
            Ok(ll.map(IpAddr::V6))
        } else {
            let a = self.nl.primary_v4(ifindex, &vip_addrs).await?;
            Ok(a.map(IpAddr::V4))
        }
    }

    /// Where the instance announces its VIPs from on `link`: the link itself, or a
    /// (re-)created vmac over it with its send socket.
    pub(super) async fn attach(
        &mut self,
        cfg: &config::Instance,
        link: &LinkInfo,
    ) -> Result<Attachment, DaemonError> {
        let ipv6 = cfg.is_ipv6();
        let (announce_ifindex, announce_mac, vmac_index) = if cfg.use_vmac {
            let v = vmac::create(&self.nl, cfg.vrid, ipv6, link.index).await?;
            info!(vrrp_instance = %cfg.name, vmac = %v.name, "created vmac interface");
            (v.index, vmac::virtual_mac(cfg.vrid, ipv6), Some(v.index))
        } else {
            let mac = link.mac.ok_or_else(|| {
                instance_err(
                    cfg,
                    format!("interface {} has no Ethernet address", cfg.interface),
                )
            })?;
            (link.index, mac, None)
        };
        // IPv4 adverts leave through the vmac so that switches keep learning the virtual
        // MAC; IPv6 ones stay on the base interface, whose link-local address they need.
        let send_sock = match vmac_index {
            Some(vi) if !ipv6 => {
                // A re-created interface has its defaults again: quiet it again, but keep
                // the settings saved from the first one to restore.
                if !self.arp_quieted.contains(&link.index) {
                    match vmac::quiet_base_arp(&cfg.interface) {
                        Ok(old) => {
                            self.arp_quieted.insert(link.index);
                            self.arp_saved.entry(cfg.interface.clone()).or_insert(old);
                        }
                        Err(e) => {
                            warn!(interface = %cfg.interface, "cannot set arp_ignore/arp_filter for use-vmac: {e}")
                        }
                    }
                }
                let name = vmac::vmac_name(cfg.vrid, false);
                Some(Arc::new(VrrpSocket::open_sender_v4(&name, vi)?))
            }
            _ => None,
        };

        Ok(Attachment {
            ifindex: announce_ifindex,
            mac: announce_mac,
            vmac: vmac_index,
            send_sock,
        })
    }

    /// Each VIP with the index of the interface it goes on (`dev=`, else `default`).
    pub(super) async fn resolve_vips(
        &self,
        cfg: &config::Instance,
        default: u32,
    ) -> Result<Vec<Vip>, DaemonError> {
        let mut vips = Vec::new();
        for v in &cfg.virtual_ips {
            let ifindex = match &v.dev {
                Some(dev) => self.nl.link_by_name(dev).await?.index,
                None => default,
            };
            vips.push(Vip {
                ifindex,
                addr: v.addr,
                prefix: v.prefix,
                label: v.label.clone(),
            });
        }
        Ok(vips)
    }

    /// The interface's usable link-local address, waiting up to `wait` for DAD to finish.
    pub(super) async fn wait_link_local(
        &self,
        ifindex: u32,
        exclude: &[IpAddr],
        wait: Duration,
    ) -> Result<Option<Ipv6Addr>, NetError> {
        let deadline = TokioInstant::now() + wait;
        loop {
            let addrs = self.nl.addresses(ifindex).await?;
            let ll = addrs.iter().find_map(|a| match a.addr {
                IpAddr::V6(v6)
                    if (v6.segments()[0] & 0xffc0) == 0xfe80
                        && !a.tentative
                        && !exclude.contains(&a.addr) =>
                {
                    Some(v6)
                }
                _ => None,
            });
            if ll.is_some() || TokioInstant::now() >= deadline {
                return Ok(ll);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Tell the tracker the current state of every interface it tracks.
    pub(super) async fn seed_tracker(&self, tracker: &Tracker, config: &Config) {
        let mut names: Vec<&str> = config
            .instances
            .iter()
            .flat_map(|i| i.track_interfaces.iter().map(|t| t.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            match self.nl.link_by_name(name).await {
                Ok(l) => tracker.link_changed(name, l.up),
                Err(NetError::NoSuchInterface(_)) => tracker.link_changed(name, false),
                Err(e) => warn!("track-interface {name}: {e}"),
            }
        }
    }

    /// Remove stale VIPs, tell the cores about down links and tracking, start every instance.
    pub(super) async fn start(&mut self, tracker: &Tracker) {
        for i in 0..self.routers.len() {
            self.start_one(i, tracker).await;
        }
        self.write_status();
    }

    pub(super) async fn start_one(&mut self, i: usize, tracker: &Tracker) {
        {
            let r = &self.routers[i];
            // A crash leaves the VIPs behind; the owner (255) keeps them as it becomes Master at once.
            if r.cfg.priority != 255 {
                for v in &r.vips {
                    match self.nl.has_address(v.ifindex, v.addr).await {
                        Ok(true) => {
                            info!(vrrp_instance = %r.cfg.name, vip = %v.addr, "removing stale VIP left by a previous run");
                            if let Err(e) = self.nl.del_address(v.ifindex, v.addr, v.prefix).await {
                                warn!(vrrp_instance = %r.cfg.name, "{e}");
                            }
                        }
                        Ok(false) => {}
                        Err(e) => warn!(vrrp_instance = %r.cfg.name, "{e}"),
                    }
                }
            }
            let (delta, fault) = tracker.initial(&r.cfg.name);
            let r = &self.routers[i];
            let link_down = self.link_up.get(&r.ifindex) == Some(&false);
            if delta != 0 || fault {
                self.feed(i, Event::Track { delta, fault }).await;
            }
            if link_down {
                self.feed(i, Event::LinkDown).await;
            }
            self.feed(i, Event::Startup).await;
        }
    }
}

/// Where an instance announces its VIPs from (see [`Daemon::attach`]).
pub(super) struct Attachment {
    pub(super) ifindex: u32,
    pub(super) mac: [u8; 6],
    pub(super) vmac: Option<u32>,
    pub(super) send_sock: Option<Arc<VrrpSocket>>,
}

/// Read packets off one socket into the loop's channel until aborted (a socket bound to
/// a deleted interface just goes quiet, so its reader must be ended from outside).
pub(super) fn spawn_receiver(
    index: usize,
    sock: Arc<VrrpSocket>,
    tx: mpsc::Sender<(usize, Received)>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        loop {
            match sock.recv().await {
                Ok(pkt) => {
                    if tx.send((index, pkt)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    warn!(interface = sock.ifname(), "VRRP socket receive error: {e}");
                    // A persistent error must not spin the loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .abort_handle()
}
