//! The whole benchmark: every scenario against Palaver and against the Node reference (and,
//! for idle memory, fan-out and latency, against bare socketioxide: the stack's floor), in
//! alternating order, each on a fresh server pinned to its own core, then the tables.

mod cluster;
mod hostile;
mod jobs;

use std::path::PathBuf;
use std::time::Duration;

use crate::report::{Better, Cell, FloorRow, Overhead, Row, floor_table, table, table_between};
use crate::scenario::{
    ScenarioError, Step, attack, fanout, frontend, guests, hooks, idle, import, ms, persist, rooms,
    storm,
};
use crate::servers::{Binaries, Kind, Launch, Server};
use crate::slack_export::Shape;

/// How big each scenario is.
pub(crate) struct Plan {
    idle_levels: Vec<usize>,
    idle_settle: Duration,
    idle_cpu_window: Duration,
    fan_receivers: usize,
    fan_publishers: usize,
    fan_rates: Vec<f64>,
    /// How many times the rate ladder is climbed; the median knee is reported.
    fan_ladders: usize,
    step_seconds: f64,
    latency_seconds: f64,
    rooms_clients: usize,
    room_size: usize,
    rooms_rate: f64,
    rooms_seconds: f64,
    persist_senders: usize,
    persist_seconds: f64,
    frontend_runs: usize,
    reconnect: storm::Plan,
    arrivals: guests::Plan,
    attacks: attack::Plan,
    import: import::Plan,
    hooks: hooks::Plan,
}

impl Plan {
    /// The figures the issue asks for.
    pub(crate) fn full() -> Plan {
        Plan {
            idle_levels: vec![1_000, 10_000, 19_000],
            idle_settle: Duration::from_secs(5),
            // A whole heartbeat period (25 s): every connection pings once in it.
            idle_cpu_window: Duration::from_secs(25),
            fan_receivers: 1_000,
            fan_publishers: 10,
            fan_rates: vec![
                10.0, 25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 650.0, 800.0, 1000.0,
                1300.0, 1600.0, 2000.0,
            ],
            fan_ladders: 3,
            step_seconds: 5.0,
            latency_seconds: 10.0,
            rooms_clients: 10_000,
            room_size: 10,
            rooms_rate: 1_000.0,
            rooms_seconds: 10.0,
            persist_senders: 100,
            persist_seconds: 10.0,
            frontend_runs: 10,
            reconnect: storm::Plan {
                clients: 10_000,
                room_size: 10,
                lobby_messages: 100,
                forget: 50,
                bystanders: 4,
                bystander_rate: 20.0,
                lobby_rate: 2.0,
                min_window: Duration::from_secs(10),
                patience: Duration::from_secs(180),
            },
            arrivals: guests::Plan {
                guests: 2_000,
                within: Duration::from_secs(1),
                lobby_messages: 1_000,
                bystanders: 4,
                bystander_rate: 20.0,
                patience: Duration::from_secs(60),
            },
            attacks: attack::Plan {
                long_messages: 200,
                history_requests: 100_000,
                polling_sessions: 1_000,
                lobby_messages: 1_000,
                connections: 2_000,
                header_every: Duration::from_secs(5),
                // Longer than Engine.IO's heartbeat (25 s + 20 s): a server that relies on it
                // to let go of what an attacker left has let go by the end.
                hold: Duration::from_secs(50),
                bystanders: 4,
                bystander_rate: 20.0,
                rss_guard: 6 << 30,
            },
            import: import::Plan {
                shape: Shape {
                    channels: 10,
                    days: 100,
                    per_day: 1_000,
                },
                idle: Duration::from_secs(30),
                bystander_rate: 20.0,
                patience: Duration::from_secs(900),
            },
            hooks: hooks::Plan {
                hooks: 100,
                idle: Duration::from_secs(30),
                window: Duration::from_secs(30),
                bystander_rate: 20.0,
                patience: Duration::from_secs(60),
            },
        }
    }

    /// A small run of everything, to show that the suite and both servers work (the test
    /// script runs it); its figures mean nothing.
    pub(crate) fn quick() -> Plan {
        Plan {
            idle_levels: vec![50, 100, 150],
            idle_settle: Duration::from_millis(500),
            idle_cpu_window: Duration::from_secs(1),
            fan_receivers: 50,
            fan_publishers: 2,
            fan_rates: vec![10.0, 20.0],
            fan_ladders: 1,
            step_seconds: 1.0,
            latency_seconds: 1.0,
            rooms_clients: 100,
            room_size: 10,
            rooms_rate: 50.0,
            rooms_seconds: 1.0,
            persist_senders: 10,
            persist_seconds: 1.0,
            frontend_runs: 1,
            reconnect: storm::Plan {
                clients: 200,
                room_size: 10,
                lobby_messages: 20,
                forget: 10,
                bystanders: 2,
                bystander_rate: 4.0,
                lobby_rate: 2.0,
                min_window: Duration::from_secs(2),
                patience: Duration::from_secs(60),
            },
            arrivals: guests::Plan {
                guests: 200,
                within: Duration::from_secs(1),
                lobby_messages: 200,
                bystanders: 2,
                bystander_rate: 4.0,
                patience: Duration::from_secs(30),
            },
            attacks: attack::Plan {
                long_messages: 50,
                history_requests: 100,
                polling_sessions: 50,
                lobby_messages: 100,
                connections: 100,
                header_every: Duration::from_secs(1),
                hold: Duration::from_secs(3),
                bystanders: 2,
                bystander_rate: 4.0,
                rss_guard: 1 << 30,
            },
            import: import::Plan {
                shape: Shape {
                    channels: 2,
                    days: 5,
                    per_day: 1_000,
                },
                idle: Duration::from_secs(1),
                bystander_rate: 20.0,
                patience: Duration::from_secs(120),
            },
            hooks: hooks::Plan {
                hooks: 100,
                idle: Duration::from_secs(1),
                window: Duration::from_secs(3),
                bystander_rate: 20.0,
                patience: Duration::from_secs(30),
            },
        }
    }
}

pub(crate) struct Suite {
    pub(crate) bins: Binaries,
    pub(crate) plan: Plan,
    pub(crate) server_core: usize,
    pub(crate) only: Vec<String>,
    /// Which servers to measure: all three, unless narrowed down while investigating.
    pub(crate) servers: Vec<Kind>,
    /// The memory bound Palaver was configured with (MiB), when one was: the attacks' peak
    /// memory is held against it plus [`ATTACK_RSS_SLACK_MIB`].
    pub(crate) memory_bound_mib: Option<u64>,
    /// Settings for the suite's Postgres (`-c NAME=value`), after its own.
    pub(crate) postgres_conf: Vec<(String, String)>,
}

/// What a single unauthenticated client may cost beyond the configured memory bound.
pub(crate) const ATTACK_RSS_SLACK_MIB: u64 = 64;

fn log(line: String) {
    eprintln!("{line}");
}

/// The servers, in the order for the `n`-th scenario: each goes first in turn.
fn order(n: usize) -> [Kind; 3] {
    let mut kinds = [Kind::Palaver, Kind::Node, Kind::Bare];
    kinds.rotate_left(n % 3);
    kinds
}

fn error_cell(e: &ScenarioError) -> Cell {
    Cell::Text(format!("error: {e}"))
}

/// Results per server: the table's `[palaver, node]`, and the floor's.
struct Pair<T> {
    palaver: Option<T>,
    node: Option<T>,
    bare: Option<T>,
}

impl<T> Pair<T> {
    fn new() -> Self {
        Pair {
            palaver: None,
            node: None,
            bare: None,
        }
    }
    fn set(&mut self, kind: Kind, value: T) {
        match kind {
            Kind::Palaver => self.palaver = Some(value),
            Kind::Node => self.node = Some(value),
            Kind::Bare => self.bare = Some(value),
            // Measured by the front-end scenario alone, which keeps its own result.
            Kind::Floor => {}
        }
    }
    fn all(&self) -> [&Option<T>; 3] {
        [&self.palaver, &self.node, &self.bare]
    }
}

impl Suite {
    /// The servers of `order` this run measures, the bare one only where it has the events.
    fn kinds(&self, order: [Kind; 3], with_bare: bool) -> Vec<Kind> {
        order
            .into_iter()
            .filter(|k| self.servers.contains(k) && (with_bare || *k != Kind::Bare))
            .collect()
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }

    async fn start(
        &self,
        kind: Kind,
        pinned: bool,
        persist: bool,
    ) -> Result<Server, ScenarioError> {
        let launch = Launch {
            persist,
            ..Launch::new(kind, pinned.then_some(self.server_core))
        };
        Ok(Server::start(&self.bins, &launch).await?)
    }

    /// Runs every wanted scenario; the table, and whether every scenario ran without losing a
    /// delivery at its lowest load (latency only shapes the figures, it fails nothing).
    pub(crate) async fn run(&self) -> (String, bool) {
        let mut rows = Vec::new();
        let mut floor = Vec::new();
        let mut ok = true;
        let mut n = 0;
        let mut node_knee = None;
        if self.wants("idle") {
            ok &= self.idle(order(n), &mut rows, &mut floor).await;
            n += 1;
        }
        if self.wants("fanout") {
            let (fine, knee) = self.fanout(order(n), &mut rows, &mut floor).await;
            ok &= fine;
            node_knee = knee;
            n += 1;
        }
        if self.wants("latency") {
            ok &= self
                .latency(order(n), node_knee, &mut rows, &mut floor)
                .await;
            n += 1;
        }
        if self.wants("rooms") {
            ok &= self.many_rooms(order(n), &mut rows).await;
            n += 1;
        }
        if self.wants("persist") {
            ok &= self.persisted(order(n), &mut rows).await;
            n += 1;
        }
        let (wants_cluster, wants_postgres) =
            (self.wants("cluster"), self.wants("persist-postgres"));
        let mut backends = Vec::new();
        if wants_cluster || wants_postgres {
            log("starting Redis and Postgres".into());
            let mut shared = cluster::Shared::start(self.server_core, &self.postgres_conf).await;
            if wants_cluster {
                ok &= self.cluster(order(n), &mut shared, &mut rows).await;
                n += 1;
            }
            if wants_postgres {
                ok &= self
                    .persisted_on_postgres(order(n), &mut shared, &mut backends)
                    .await;
                n += 1;
            }
            if let Ok(shared) = shared {
                shared.stop().await;
            }
        }
        if self.wants("unpinned") {
            ok &= self.unpinned(&mut rows).await;
        }
        if self.wants("frontend") {
            ok &= self.frontend(&mut rows, &mut floor).await;
        }
        if self.wants("reconnect") {
            ok &= self.reconnect_storm(&mut rows).await;
        }
        if self.wants("connstorm") {
            ok &= self.connection_storm(order(n), &mut rows).await;
            n += 1;
        }
        for a in attack::Attack::ALL {
            if self.wants("attack") || self.wants(&format!("attack-{}", a.name())) {
                ok &= self.attack(order(n), a, &mut rows).await;
                n += 1;
            }
        }
        ok &= self.imports(&mut rows).await;
        if self.wants("hooks-failing") {
            ok &= self.hooks_failing(&mut rows).await;
        }
        // The main table, unless the run measured only the backends.
        let mut out = if rows.is_empty() && !backends.is_empty() {
            String::new()
        } else {
            table(&rows)
        };
        if !backends.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(
                "One Palaver node on Postgres against one on SQLite (both fsync every commit):\n\n",
            );
            out.push_str(&table_between(
                ["Palaver on Postgres", "Palaver on SQLite"],
                &backends,
            ));
        }
        if !floor.is_empty() {
            out.push_str(
                "\nPalaver over the stack's floor (bare socketioxide with Palaver's engine settings; a minimal hydrated Leptos page):\n\n",
            );
            out.push_str(&floor_table(&floor));
        }
        (out, ok)
    }

    async fn idle(&self, order: [Kind; 3], rows: &mut Vec<Row>, floor: &mut Vec<FloorRow>) -> bool {
        let p = &self.plan;
        let mut results = Pair::new();
        for kind in self.kinds(order, true) {
            log(format!("idle: {}", kind.label()));
            let result = async {
                let server = self.start(kind, true, false).await?;
                let r = idle::run(&server, &p.idle_levels, p.idle_settle, p.idle_cpu_window).await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(r) = &result {
                for l in &r.levels {
                    log(format!(
                        "  {:>6} connections: {:.1} MB",
                        l.connections,
                        l.rss as f64 / 1e6
                    ));
                }
            }
            results.set(kind, result);
        }
        let ok = results
            .all()
            .into_iter()
            .flatten()
            .all(|r| matches!(r, Ok(i) if i.dropped == 0));
        let scenario = "Idle connections";
        let both = [&results.palaver, &results.node];
        for (i, level) in p.idle_levels.iter().enumerate() {
            rows.push(row(
                scenario,
                format!("server RSS with {level} held"),
                Better::Lower,
                both,
                |r| Cell::of(r.levels[i + 1].rss as f64 / 1e6, "MB"),
            ));
        }
        let (first, last) = (p.idle_levels[0], p.idle_levels[p.idle_levels.len() - 1]);
        rows.push(row(
            scenario,
            format!("RSS per connection, {first} → {last}"),
            Better::Lower,
            both,
            |r| Cell::of(r.slope() / 1024.0, "KB"),
        ));
        rows.push(row(
            scenario,
            "connections dropped",
            Better::Lower,
            both,
            |r| Cell::of(r.dropped as f64, ""),
        ));
        rows.push(row(
            scenario,
            "frames received per connection while held",
            Better::Lower,
            both,
            |r| Cell::of(r.frames as f64 / last as f64, ""),
        ));
        rows.push(row(
            scenario,
            "longest frame received",
            Better::Lower,
            both,
            |r| Cell::of(r.largest_frame as f64, "B"),
        ));
        rows.push(row(
            scenario,
            format!("idle CPU, {last} held"),
            Better::Lower,
            both,
            |r| Cell::of(r.idle_cpu * 100.0, "% of a core"),
        ));
        let levels = p.idle_levels.len();
        floor_row(
            floor,
            scenario,
            format!("RSS per connection, {first} → {last}"),
            &results,
            Overhead::Difference {
                target: Some(IDLE_OVERHEAD_KB),
            },
            |r| Cell::of(r.slope() / 1024.0, "KB"),
        );
        floor_row(
            floor,
            scenario,
            "frames received per connection while held",
            &results,
            Overhead::Difference { target: None },
            |r| Cell::of(r.frames as f64 / last as f64, ""),
        );
        floor_row(
            floor,
            scenario,
            format!("server RSS with {last} held"),
            &results,
            Overhead::Difference { target: None },
            |r| Cell::of(r.levels[levels].rss as f64 / 1e6, "MB"),
        );
        ok
    }

    async fn knee_of(&self, kind: Kind, pinned: bool) -> Result<fanout::Knee, ScenarioError> {
        let p = &self.plan;
        let server = self.start(kind, pinned, false).await?;
        let result = async {
            let room = fanout::gather_room(&server, p.fan_receivers, p.fan_publishers).await?;
            fanout::median_knee(&room, &p.fan_rates, p.step_seconds, p.fan_ladders, &log).await
        }
        .await;
        server.stop().await;
        result
    }

    async fn fanout(
        &self,
        order: [Kind; 3],
        rows: &mut Vec<Row>,
        floor: &mut Vec<FloorRow>,
    ) -> (bool, Option<f64>) {
        let p = &self.plan;
        let mut results = Pair::new();
        for kind in self.kinds(order, true) {
            log(format!(
                "fan-out to {} receivers: {}",
                p.fan_receivers,
                kind.label()
            ));
            results.set(kind, self.knee_of(kind, true).await);
        }
        let node_knee = match &results.node {
            Some(Ok(k)) => k.best.as_ref().map(|(rate, _)| *rate),
            _ => None,
        };
        let ok = results
            .all()
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(k)) if k.lowest_complete));
        let scenario = format!("Fan-out, 1 room of {}", p.fan_receivers);
        knee_rows(
            rows,
            &scenario,
            p.fan_receivers,
            [&results.palaver, &results.node],
        );
        let knee = |k: &fanout::Knee| match &k.best {
            Some((rate, _)) => Cell::of(*rate, "/s"),
            None => Cell::Text("below the lowest rate".into()),
        };
        floor_row(
            floor,
            &scenario,
            "knee: messages/s published (median ladder)",
            &results,
            Overhead::Share,
            knee,
        );
        floor_row(
            floor,
            &scenario,
            "knee of each ladder climbed (messages/s)",
            &results,
            Overhead::Share,
            |k| {
                let knees: Vec<String> = k.ladders.iter().map(|r| format!("{r:.0}")).collect();
                Cell::Text(knees.join(", "))
            },
        );
        (ok, node_knee)
    }

    async fn unpinned(&self, rows: &mut Vec<Row>) -> bool {
        let p = &self.plan;
        log(format!(
            "fan-out to {} receivers: Palaver unpinned",
            p.fan_receivers
        ));
        let result = self.knee_of(Kind::Palaver, false).await;
        let ok = matches!(&result, Ok(k) if k.lowest_complete);
        knee_rows(
            rows,
            "Fan-out, Palaver unpinned",
            p.fan_receivers,
            [&Some(result), &None],
        );
        ok
    }

    async fn latency(
        &self,
        order: [Kind; 3],
        node_knee: Option<f64>,
        rows: &mut Vec<Row>,
        floor: &mut Vec<FloorRow>,
    ) -> bool {
        let p = &self.plan;
        // Without the reference's knee (not measured in this run), the lowest rung stands in.
        let base = node_knee.unwrap_or(p.fan_rates[0] * 4.0);
        let fractions = [0.25, 0.5, 0.75];
        let mut results: Pair<Result<Vec<Step>, ScenarioError>> = Pair::new();
        for kind in self.kinds(order, true) {
            log(format!(
                "latency at fractions of {base:.0} msg/s: {}",
                kind.label()
            ));
            let result = async {
                let server = self.start(kind, true, false).await?;
                let steps = async {
                    let room =
                        fanout::gather_room(&server, p.fan_receivers, p.fan_publishers).await?;
                    room.warm_up(base * fractions[0], p.latency_seconds).await?;
                    let mut steps = Vec::new();
                    for f in fractions {
                        let rate = (base * f).max(1.0);
                        let step = room.step(rate, p.latency_seconds).await?;
                        log(fanout::describe(rate, &step, step.complete()));
                        steps.push(step);
                    }
                    Ok::<_, ScenarioError>(steps)
                }
                .await;
                server.stop().await;
                steps
            }
            .await;
            results.set(kind, result);
        }
        let ok = results
            .all()
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(steps)) if steps.iter().all(Step::complete)));
        for (i, f) in fractions.iter().enumerate() {
            let scenario = format!(
                "Latency at {:.0}% of Node's knee ({:.0} msg/s × {})",
                f * 100.0,
                (base * f).max(1.0),
                p.fan_receivers
            );
            delivery_rows(
                rows,
                &scenario,
                [&results.palaver, &results.node],
                &[("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)],
                |steps| &steps[i],
            );
            floor_row(
                floor,
                &scenario,
                "p99 latency",
                &results,
                Overhead::Difference { target: None },
                |steps| step_cell(&steps[i], steps[i].p99_ms(), "ms"),
            );
        }
        ok
    }

    async fn many_rooms(&self, order: [Kind; 3], rows: &mut Vec<Row>) -> bool {
        let p = &self.plan;
        let mut results = Pair::new();
        for kind in self.kinds(order, false) {
            log(format!(
                "{} clients in rooms of {}: {}",
                p.rooms_clients,
                p.room_size,
                kind.label()
            ));
            let result = async {
                let server = self.start(kind, true, false).await?;
                let r = rooms::run(
                    &server,
                    p.rooms_clients,
                    p.room_size,
                    p.rooms_rate,
                    p.rooms_seconds,
                )
                .await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(r) = &result {
                let [owned, created, connected, joined] = r.phases;
                log(format!(
                    "  gathered in {:.1} s: owners connected at {owned:.2} s, their rooms \
                     created at {created:.2} s, members connected at {connected:.2} s, joined \
                     at {joined:.2} s",
                    r.gather_seconds
                ));
                log(fanout::describe(p.rooms_rate, &r.step, r.step.complete()));
            }
            results.set(kind, result);
        }
        let ok = [&results.palaver, &results.node]
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(m)) if m.step.complete()));
        let scenario = format!(
            "Many rooms: {} clients, rooms of {}, {:.0} msg/s",
            p.rooms_clients, p.room_size, p.rooms_rate
        );
        delivery_rows(
            rows,
            &scenario,
            [&results.palaver, &results.node],
            &[("p50", 0.5), ("p99", 0.99), ("max", 1.0)],
            |m| &m.step,
        );
        let both = [&results.palaver, &results.node];
        rows.push(row(
            &scenario,
            "time to connect and join everyone",
            Better::Lower,
            both,
            |m| Cell::of(m.gather_seconds, "s"),
        ));
        ok
    }

    async fn persisted(&self, order: [Kind; 3], rows: &mut Vec<Row>) -> bool {
        let p = &self.plan;
        let mut results = Pair::new();
        for kind in self.kinds(order, false) {
            log(format!(
                "persisted sends, {} senders: {}",
                p.persist_senders,
                kind.label()
            ));
            let result = async {
                let server = self.start(kind, true, true).await?;
                let r = persist::run(&server, &[], p.persist_senders, p.persist_seconds).await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(r) = &result {
                log(format!(
                    "  {:.0} acked/s, ack p50 {:.2} ms p99 {:.2} ms, server {:.1} µs per ack, \
                     generator {:.0}% busy",
                    r.acked_per_second(),
                    ms(r.tally.ack.quantile(0.5)),
                    ms(r.tally.ack.quantile(0.99)),
                    r.cpu_us_per_ack(),
                    r.generator_load * 100.0
                ));
            }
            results.set(kind, result);
        }
        let ok = [&results.palaver, &results.node]
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(m)) if m.tally.acked > 0));
        let scenario = format!(
            "Persisted sends, {} senders (SQLite, synchronous=FULL)",
            p.persist_senders
        );
        let both = [&results.palaver, &results.node];
        persisted_rows(rows, &scenario, both);
        rows.push(row(
            &scenario,
            "sends refused (each ends its sender's loop)",
            Better::Lower,
            both,
            refused,
        ));
        ok
    }

    async fn frontend(&self, rows: &mut Vec<Row>, floor: &mut Vec<FloorRow>) -> bool {
        log("front end: Palaver".into());
        let pkg: PathBuf = self.bins.site_root.join("pkg");
        let result = async {
            let server = self.start(Kind::Palaver, true, false).await?;
            let r = frontend::run(
                &server,
                &self.bins.node_dir,
                &pkg,
                50,
                self.plan.frontend_runs,
            )
            .await;
            server.stop().await;
            r
        }
        .await;
        let scenario = "Front end (Palaver only)";
        let mut push = |metric: String, palaver: Cell| {
            rows.push(Row {
                scenario: scenario.into(),
                metric,
                palaver,
                node: Cell::Missing,
                better: Better::Lower,
            })
        };
        let v = match result {
            Ok(v) => v,
            Err(e) => {
                push("all".into(), error_cell(&e));
                self.frontend_floor(&serde_json::Value::Null, floor).await;
                return false;
            }
        };
        // `total` is a first visit's wasm, JS and CSS; `chunks`, the wasm loaded when a panel
        // first opens.
        for (asset, label) in [
            ("wasm", "wasm"),
            ("js", "js"),
            ("css", "css"),
            ("total", "total"),
            ("chunks", "lazy chunks"),
        ] {
            for enc in ["raw", "gzip", "brotli"] {
                if let Some(bytes) = num(&v, &["bytes", asset, enc]) {
                    push(
                        format!("{label} bytes, {enc}"),
                        Cell::of(bytes / 1024.0, "KB"),
                    );
                }
            }
        }
        if let Some(bytes) = num(&v, &["transfer", "total"]) {
            push(
                "first load, bytes on the wire".into(),
                Cell::of(bytes / 1024.0, "KB"),
            );
        }
        for (name, key) in [("median", "median_ms"), ("p95", "p95_ms")] {
            if let Some(t) = num(&v, &["ssr", key]) {
                push(
                    format!("SSR of the page with 50 messages, {name}"),
                    Cell::of(t, "ms"),
                );
            }
        }
        for (name, key) in [
            ("median", "median_ms"),
            ("p95", "p95_ms"),
            ("max", "max_ms"),
        ] {
            if let Some(t) = num(&v, &["hydrate", key]) {
                push(
                    format!("navigation to hydrated and connected, {name}"),
                    Cell::of(t, "ms"),
                );
            }
        }
        let ok = num(&v, &["hydrate", "median_ms"]).is_some();
        self.frontend_floor(&v, floor).await;
        ok
    }

    /// The minimal Leptos page beside Palaver's, when it was built (the full run builds it).
    async fn frontend_floor(&self, palaver: &serde_json::Value, floor: &mut Vec<FloorRow>) {
        let scenario = "Front end: a minimal hydrated Leptos page";
        let result = match &self.bins.floor_site {
            Some(site) => {
                log("front end: the minimal Leptos page".into());
                async {
                    let launch = Launch::new(Kind::Floor, Some(self.server_core));
                    let server = Server::start(&self.bins, &launch).await?;
                    let r = frontend::run(
                        &server,
                        &self.bins.node_dir,
                        &site.join("pkg"),
                        0,
                        self.plan.frontend_runs,
                    )
                    .await;
                    server.stop().await;
                    r
                }
                .await
            }
            None => Err(ScenarioError::Failed(
                "not built: bench/floor-leptos/build.sh (the quick run skips it)".into(),
            )),
        };
        let mut push = |metric: &str, p: &[&str], f: &[&str], unit: &'static str, scale: f64| {
            let cell = |v: &serde_json::Value, path: &[&str]| {
                num(v, path).map_or(Cell::Missing, |x| Cell::of(x / scale, unit))
            };
            floor.push(FloorRow {
                scenario: scenario.into(),
                metric: metric.into(),
                palaver: cell(palaver, p),
                floor: match &result {
                    Ok(v) => cell(v, f),
                    Err(e) => error_cell(e),
                },
                overhead: Overhead::Difference { target: None },
            });
        };
        let kb = 1024.0;
        push(
            "wasm bytes, brotli",
            &["bytes", "wasm", "brotli"],
            &["bytes", "wasm", "brotli"],
            "KB",
            kb,
        );
        push(
            "first load, bytes on the wire",
            &["transfer", "total"],
            &["transfer", "total"],
            "KB",
            kb,
        );
        // The floor has no socket: its "ready" is hydration alone, beside Palaver's moment of
        // hydration (before its socket's CONNECT is answered).
        push(
            "navigation to hydrated, median",
            &["hydrate", "median_breakdown", "hydrated_ms"],
            &["hydrate", "median_breakdown", "hydrated_ms"],
            "ms",
            1.0,
        );
        push(
            "navigation to ready (Palaver: hydrated and connected), median",
            &["hydrate", "median_ms"],
            &["hydrate", "median_ms"],
            "ms",
            1.0,
        );
    }
}

/// Persisted sends the server refused, with the first one's reason.
fn refused(r: &persist::Persisted) -> Cell {
    match &r.tally.first_failure {
        Some(why) if r.tally.failed > 0 => {
            Cell::Text(format!("{} (the first: {why})", r.tally.failed))
        }
        _ => Cell::of(r.tally.failed as f64, ""),
    }
}

/// A number in `frontend.mjs`'s JSON.
fn num(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(serde_json::Value::as_f64)
}

/// A latency figure, marked as a lower bound when the generator was saturated.
fn step_cell(step: &Step, value: f64, unit: &'static str) -> Cell {
    Cell::Value {
        value,
        unit,
        lower_bound: step.generator_bound(),
    }
}

fn knee_rows(
    rows: &mut Vec<Row>,
    scenario: &str,
    receivers: usize,
    results: [&Option<Result<fanout::Knee, ScenarioError>>; 2],
) {
    rows.push(row(
        scenario,
        "knee of each ladder climbed (messages/s)",
        Better::Higher,
        results,
        |k| {
            let knees: Vec<String> = k.ladders.iter().map(|r| format!("{r:.0}")).collect();
            Cell::Text(knees.join(", "))
        },
    ));
    rows.push(row(
        scenario,
        "median ladder: first failing rate (messages/s)",
        Better::Higher,
        results,
        |k| match k.failed_at {
            Some(rate) => Cell::of(rate, "/s"),
            None => Cell::Text("none: every rate passed".into()),
        },
    ));
    let bound = |s: &Step, value: f64| Cell::Value {
        value,
        unit: "/s",
        lower_bound: s.generator_bound(),
    };
    rows.push(row(
        scenario,
        "knee: messages/s published (median ladder)",
        Better::Higher,
        results,
        at_knee(|r, s| bound(s, r)),
    ));
    rows.push(row(
        scenario,
        "knee: deliveries/s",
        Better::Higher,
        results,
        at_knee(|r, s| bound(s, r * receivers as f64)),
    ));
    rows.push(row(
        scenario,
        "knee: p99 latency",
        Better::Lower,
        results,
        at_knee(|_, s| Cell::of(s.p99_ms(), "ms")),
    ));
    rows.push(row(
        scenario,
        "server CPU per delivery at the knee",
        Better::Lower,
        results,
        at_knee(|_, s| Cell::of(s.cpu_us_per_delivery(), "µs")),
    ));
    rows.push(row(
        scenario,
        "deliveries per server CPU-second",
        Better::Higher,
        results,
        at_knee(|_, s| {
            if s.server_cpu > 0.0 {
                Cell::of(1e6 / s.cpu_us_per_delivery(), "/s")
            } else {
                Cell::Text("below the clock's resolution".into())
            }
        }),
    ));
}

/// A figure of the knee's step; text when no rate passed.
fn at_knee(get: impl Fn(f64, &Step) -> Cell) -> impl Fn(&fanout::Knee) -> Cell {
    move |k| match &k.best {
        Some((rate, step)) => get(*rate, step),
        None => Cell::Text("below the lowest rate".into()),
    }
}

/// Latency at `quantiles` (1.0: the maximum) and missing deliveries, of the step `step_of`
/// picks from each server's result.
fn delivery_rows<T>(
    rows: &mut Vec<Row>,
    scenario: &str,
    results: [&Option<Result<T, ScenarioError>>; 2],
    quantiles: &[(&str, f64)],
    step_of: impl Fn(&T) -> &Step,
) {
    for (name, q) in quantiles {
        rows.push(row(
            scenario,
            format!("{name} latency"),
            Better::Lower,
            results,
            |r| {
                let step = step_of(r);
                step_cell(step, ms(step.tally.latency.quantile(*q)), "ms")
            },
        ));
    }
    rows.push(row(
        scenario,
        "deliveries missing",
        Better::Lower,
        results,
        |r| Cell::of(step_of(r).missing() as f64, ""),
    ));
}

/// Palaver's idle memory per connection may exceed bare socketioxide's by this much (KB).
const IDLE_OVERHEAD_KB: f64 = 2.0;

/// A row of Palaver's figure beside the bare server's, when the bare server was measured.
fn floor_row<T>(
    floor: &mut Vec<FloorRow>,
    scenario: &str,
    metric: impl Into<String>,
    results: &Pair<Result<T, ScenarioError>>,
    overhead: Overhead,
    get: impl Fn(&T) -> Cell,
) {
    let cell = |r: &Option<Result<T, ScenarioError>>| match r {
        Some(Ok(v)) => get(v),
        Some(Err(e)) => error_cell(e),
        None => Cell::Missing,
    };
    if results.bare.is_none() {
        return;
    }
    floor.push(FloorRow {
        scenario: scenario.into(),
        metric: metric.into(),
        palaver: cell(&results.palaver),
        floor: cell(&results.bare),
        overhead,
    });
}

/// A row of one figure of each server's result.
/// The rows every persisted-sends table has: rate, ack latency, server CPU.
pub(super) fn persisted_rows(
    rows: &mut Vec<Row>,
    scenario: &str,
    both: [&Option<Result<persist::Persisted, ScenarioError>>; 2],
) {
    rows.push(row(
        scenario,
        "acknowledged messages/s",
        Better::Higher,
        both,
        |r| Cell::Value {
            value: r.acked_per_second(),
            unit: "/s",
            lower_bound: r.generator_bound(),
        },
    ));
    rows.push(row(scenario, "ack p50", Better::Lower, both, |r| {
        Cell::of(ms(r.tally.ack.quantile(0.5)), "ms")
    }));
    rows.push(row(scenario, "ack p99", Better::Lower, both, |r| {
        Cell::of(ms(r.tally.ack.quantile(0.99)), "ms")
    }));
    rows.push(row(
        scenario,
        "server CPU per acknowledged message",
        Better::Lower,
        both,
        |r| Cell::of(r.cpu_us_per_ack(), "µs"),
    ));
}

fn row<T>(
    scenario: &str,
    metric: impl Into<String>,
    better: Better,
    results: [&Option<Result<T, ScenarioError>>; 2],
    get: impl Fn(&T) -> Cell,
) -> Row {
    let cell = |r: &Option<Result<T, ScenarioError>>| match r {
        Some(Ok(v)) => get(v),
        Some(Err(e)) => error_cell(e),
        None => Cell::Missing,
    };
    Row {
        scenario: scenario.into(),
        metric: metric.into(),
        palaver: cell(results[0]),
        node: cell(results[1]),
        better,
    }
}
