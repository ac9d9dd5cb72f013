//! Several nodes: two Palaver nodes on one Postgres database and one Redis against two Node
//! reference nodes with `@socket.io/redis-adapter` on the same Redis, one room of receivers
//! split over both; and persisted sends on one node on Postgres against one on SQLite.
//!
//! Redis and Postgres are the suite's own (`services`), started once for the run, pinned
//! with the servers; each cluster gets a fresh database and an emptied Redis.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::report::{Better, Cell, Row};
use crate::scenario::{ScenarioError, Step, fanout, ms, persist};
use crate::servers::{Kind, Launch, Server};
use crate::services::{self, Postgres, Service, ServiceError};
use crate::suite::{Pair, Suite, knee_rows, log, persisted_rows, refused, row};

/// How many nodes the cluster scenario runs.
const NODES: usize = 2;
/// The share of the Node cluster's knee the latency step runs at.
const LATENCY_SHARE: f64 = 0.5;

/// The services several nodes share, for the whole run.
pub(crate) struct Shared {
    redis: Service,
    postgres: Postgres,
}

impl Shared {
    pub(crate) async fn start(
        core: usize,
        postgres_conf: &[(String, String)],
    ) -> Result<Shared, ServiceError> {
        let redis = services::redis(core).await?;
        match services::postgres(core, postgres_conf).await {
            Ok(postgres) => Ok(Shared { redis, postgres }),
            Err(e) => {
                redis.stop().await;
                Err(e)
            }
        }
    }

    pub(crate) async fn stop(self) {
        self.redis.stop().await;
        self.postgres.stop().await;
    }

    /// Empties Redis: the Node reference keeps its cluster's room names there.
    async fn flush_redis(&self) -> Result<(), ScenarioError> {
        let failed = |e: std::io::Error| ScenarioError::Failed(format!("FLUSHALL: {e}"));
        let mut redis = tokio::net::TcpStream::connect(("127.0.0.1", self.redis.port))
            .await
            .map_err(failed)?;
        redis
            .write_all(b"*1\r\n$8\r\nFLUSHALL\r\n")
            .await
            .map_err(failed)?;
        let mut answer = [0u8; 5];
        redis.read_exact(&mut answer).await.map_err(failed)?;
        if &answer != b"+OK\r\n" {
            return Err(ScenarioError::Failed(format!(
                "FLUSHALL answered {:?}",
                String::from_utf8_lossy(&answer)
            )));
        }
        Ok(())
    }

    /// The processes whose CPU time a cluster of `kind` adds to its nodes': Redis, and for
    /// Palaver Postgres too.
    fn pids(&self, kind: Kind) -> Vec<u32> {
        match kind {
            Kind::Palaver => vec![self.redis.pid(), self.postgres.pid()],
            _ => vec![self.redis.pid()],
        }
    }
}

impl Suite {
    /// `NODES` fresh nodes of `kind` on the shared services, each pinned to the servers' core;
    /// Palaver's on a new database.
    async fn start_nodes(
        &self,
        kind: Kind,
        shared: &mut Shared,
    ) -> Result<Vec<Server>, ScenarioError> {
        shared.flush_redis().await?;
        let database = match kind {
            Kind::Palaver => Some(shared.postgres.database().await?),
            _ => None,
        };
        let launch = Launch {
            database,
            redis: Some(shared.redis.redis_url()),
            ..Launch::new(kind, Some(self.server_core))
        };
        let mut nodes = Vec::with_capacity(NODES);
        // One after the other: the first creates the database's tables.
        for _ in 0..NODES {
            match Server::start(&self.bins, &launch).await {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    stop_all(nodes).await;
                    return Err(e.into());
                }
            }
        }
        Ok(nodes)
    }

    /// Fresh nodes of `kind` with the fan-out room gathered over them, given to `measure`.
    async fn on_cluster<T>(
        &self,
        kind: Kind,
        shared: &mut Shared,
        measure: impl AsyncFnOnce(&fanout::Room) -> Result<T, ScenarioError>,
    ) -> Result<T, ScenarioError> {
        let p = &self.plan;
        let nodes = self.start_nodes(kind, shared).await?;
        let result = async {
            let servers: Vec<&Server> = nodes.iter().collect();
            let room = fanout::gather_room_on(&servers, p.fan_receivers, p.fan_publishers)
                .await?
                .watching(shared.pids(kind));
            measure(&room).await
        }
        .await;
        stop_all(nodes).await;
        result
    }

    /// The fan-out knee on two nodes, then the latency at half of the Node cluster's knee.
    pub(super) async fn cluster(
        &self,
        order: [Kind; 3],
        shared: &mut Result<Shared, ServiceError>,
        rows: &mut Vec<Row>,
    ) -> bool {
        let p = &self.plan;
        let scenario = format!(
            "Two nodes: fan-out, 1 room of {} ({} per node, publishers on the first)",
            p.fan_receivers,
            p.fan_receivers / NODES
        );
        let shared = match shared {
            Ok(s) => s,
            Err(e) => {
                rows.push(Row {
                    scenario,
                    metric: "all".into(),
                    palaver: Cell::Text(format!("error: {e}")),
                    node: Cell::Missing,
                    better: Better::Higher,
                });
                return false;
            }
        };
        let kinds = self.kinds(order, false);
        let mut knees = Pair::new();
        for &kind in &kinds {
            log(format!(
                "two nodes, fan-out to {} receivers: {}",
                p.fan_receivers,
                kind.label()
            ));
            let knee = self
                .on_cluster(kind, shared, async |room| {
                    fanout::median_knee(room, &p.fan_rates, p.step_seconds, p.fan_ladders, &log)
                        .await
                })
                .await;
            if let Ok(k) = &knee
                && let Some((_, step)) = &k.best
            {
                log(describe_nodes(step));
            }
            knees.set(kind, knee);
        }
        let node_knee = match &knees.node {
            Some(Ok(k)) => k.best.as_ref().map(|(rate, _)| *rate),
            _ => None,
        };
        // Without the reference's knee (not measured, or none passed), the lowest rung's
        // fourfold stands in, as in the single-node latency scenario.
        let base = node_knee.unwrap_or(p.fan_rates[0] * 4.0);
        let rate = (base * LATENCY_SHARE).max(1.0);
        let mut latency = Pair::new();
        for &kind in &kinds {
            log(format!(
                "two nodes, latency at {rate:.0} msg/s: {}",
                kind.label()
            ));
            let result = self
                .on_cluster(kind, shared, async |room| {
                    room.warm_up(rate, p.latency_seconds).await?;
                    let step = room.step(rate, p.latency_seconds).await?;
                    log(fanout::describe(rate, &step, step.complete()));
                    log(describe_nodes(&step));
                    Ok(step)
                })
                .await;
            latency.set(kind, result);
        }
        let ok = [&knees.palaver, &knees.node]
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(k)) if k.lowest_complete))
            && [&latency.palaver, &latency.node]
                .iter()
                .filter(|r| r.is_some())
                .all(|r| matches!(r, Some(Ok(s)) if s.complete()));

        let both = [&knees.palaver, &knees.node];
        knee_rows(rows, &scenario, p.fan_receivers, both);
        rows.push(row(
            &scenario,
            "knee: cross-node p99 latency (the second node's receivers)",
            Better::Lower,
            both,
            at_knee(|s| Cell::of(ms(cross_node(s).latency.quantile(0.99)), "ms")),
        ));
        rows.push(row(
            &scenario,
            "services' CPU per delivery at the knee (Redis; Palaver: and Postgres)",
            Better::Lower,
            both,
            at_knee(|s| Cell::of(s.service_cpu_us_per_delivery(), "µs")),
        ));

        let scenario = format!(
            "Two nodes at {:.0}% of Node's two-node knee ({rate:.0} msg/s × {}){}",
            LATENCY_SHARE * 100.0,
            p.fan_receivers,
            if node_knee.is_some() {
                ""
            } else {
                ": Node's knee not found (not measured, or below the lowest rate), a stand-in rate"
            }
        );
        let both = [&latency.palaver, &latency.node];
        for (name, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
            rows.push(row(
                &scenario,
                format!("cross-node {name} latency (the second node's receivers)"),
                Better::Lower,
                both,
                |s: &Step| latency_cell(s, ms(cross_node(s).latency.quantile(q))),
            ));
        }
        rows.push(row(
            &scenario,
            "same-node p99 latency (the first node's receivers)",
            Better::Lower,
            both,
            |s: &Step| latency_cell(s, ms(s.by_server[0].latency.quantile(0.99))),
        ));
        rows.push(row(
            &scenario,
            "deliveries missing",
            Better::Lower,
            both,
            |s: &Step| Cell::of(s.missing() as f64, ""),
        ));
        rows.push(row(
            &scenario,
            "server CPU per delivery (both nodes)",
            Better::Lower,
            both,
            |s: &Step| Cell::of(s.cpu_us_per_delivery(), "µs"),
        ));
        rows.push(row(
            &scenario,
            "services' CPU per delivery (Redis; Palaver: and Postgres)",
            Better::Lower,
            both,
            |s: &Step| Cell::of(s.service_cpu_us_per_delivery(), "µs"),
        ));
        ok
    }

    /// Persisted sends from one node on Postgres and from one on SQLite (Palaver only: the
    /// Node reference stores in SQLite alone), into `rows` with Postgres as the first column.
    pub(super) async fn persisted_on_postgres(
        &self,
        order: [Kind; 3],
        shared: &mut Result<Shared, ServiceError>,
        rows: &mut Vec<Row>,
    ) -> bool {
        let p = &self.plan;
        let scenario = format!(
            "Persisted sends, {} senders, one Palaver node",
            p.persist_senders
        );
        if !self.servers.contains(&Kind::Palaver) {
            return true;
        }
        let shared = match shared {
            Ok(s) => s,
            Err(e) => {
                rows.push(Row {
                    scenario,
                    metric: "all".into(),
                    palaver: Cell::Text(format!("error: {e}")),
                    node: Cell::Missing,
                    better: Better::Higher,
                });
                return false;
            }
        };
        // Which goes first alternates with the scenarios, as the servers do elsewhere.
        let postgres_first = order[0] == Kind::Palaver;
        let mut results: [Option<Result<persist::Persisted, ScenarioError>>; 2] = [None, None];
        for on_postgres in [postgres_first, !postgres_first] {
            let backend = if on_postgres { "Postgres" } else { "SQLite" };
            log(format!(
                "persisted sends, {} senders: Palaver on {backend}",
                p.persist_senders
            ));
            let result = async {
                let (database, services) = if on_postgres {
                    (
                        Some(shared.postgres.database().await?),
                        vec![shared.postgres.pid()],
                    )
                } else {
                    (None, Vec::new())
                };
                let launch = Launch {
                    persist: true,
                    database,
                    ..Launch::new(Kind::Palaver, Some(self.server_core))
                };
                let server = Server::start(&self.bins, &launch).await?;
                let r =
                    persist::run(&server, &services, p.persist_senders, p.persist_seconds).await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(r) = &result {
                log(format!(
                    "  {:.0} acked/s, ack p50 {:.2} ms p99 {:.2} ms, server {:.1} µs and \
                     services {:.1} µs per ack, generator {:.0}% busy",
                    r.acked_per_second(),
                    ms(r.tally.ack.quantile(0.5)),
                    ms(r.tally.ack.quantile(0.99)),
                    r.cpu_us_per_ack(),
                    r.service_cpu_us_per_ack(),
                    r.generator_load * 100.0
                ));
            }
            results[usize::from(!on_postgres)] = Some(result);
        }
        let ok = results
            .iter()
            .all(|r| matches!(r, Some(Ok(m)) if m.tally.acked > 0));
        let [postgres, sqlite] = &results;
        let both = [postgres, sqlite];
        persisted_rows(rows, &scenario, both);
        rows.push(row(
            &scenario,
            "server and database CPU per acknowledged message",
            Better::Lower,
            both,
            |r| Cell::of(r.cpu_us_per_ack() + r.service_cpu_us_per_ack(), "µs"),
        ));
        rows.push(row(
            &scenario,
            "sends refused (each ends its sender's loop)",
            Better::Lower,
            both,
            refused,
        ));
        ok
    }
}

async fn stop_all(nodes: Vec<Server>) {
    for node in nodes {
        node.stop().await;
    }
}

/// What the receivers of the second node saw: delivered through Redis.
fn cross_node(step: &Step) -> &crate::recorder::Tally {
    step.by_server.last().unwrap_or(&step.tally)
}

fn latency_cell(step: &Step, value: f64) -> Cell {
    Cell::Value {
        value,
        unit: "ms",
        lower_bound: step.generator_bound(),
    }
}

/// A figure of the knee's step; text when no rate passed.
fn at_knee(get: impl Fn(&Step) -> Cell) -> impl Fn(&fanout::Knee) -> Cell {
    move |k| match &k.best {
        Some((_, step)) => get(step),
        None => Cell::Text("below the lowest rate".into()),
    }
}

/// Each node's receivers' latency, and the services' CPU.
fn describe_nodes(step: &Step) -> String {
    let nodes: Vec<String> = step
        .by_server
        .iter()
        .enumerate()
        .map(|(n, t)| {
            format!(
                "node {}: {} received, p50 {:.1} p99 {:.1} ms",
                n + 1,
                t.received,
                ms(t.latency.quantile(0.5)),
                ms(t.latency.quantile(0.99))
            )
        })
        .collect();
    format!(
        "    {}; services {:.2} µs/delivery",
        nodes.join("; "),
        step.service_cpu_us_per_delivery()
    )
}
