//! The hostile-load scenarios' part of the suite: a reconnect storm after a restart, a storm of
//! arriving guests, and what single attacks cost everyone else. Their servers keep the shipped
//! flood control, which is part of what they measure.

use crate::report::{Better, Cell, Row};
use crate::scenario::attack::{self, Attack};
use crate::scenario::{ScenarioError, guests, ms, storm};
use crate::servers::{Kind, Launch, Server};
use crate::suite::{ATTACK_RSS_SLACK_MIB, Pair, Suite, log, row};

fn mb(bytes: u64) -> Cell {
    Cell::of(bytes as f64 / 1e6, "MB")
}

fn of(n: usize, total: usize) -> Cell {
    Cell::Text(format!("{n} of {total}"))
}

fn seconds(s: Option<f64>, otherwise: &str) -> Cell {
    match s {
        Some(s) => Cell::of(s, "s"),
        None => Cell::Text(otherwise.to_owned()),
    }
}

impl Suite {
    async fn start_hostile(&self, kind: Kind) -> Result<Server, ScenarioError> {
        let launch = Launch {
            flood_control: true,
            ..Launch::new(kind, Some(self.server_core))
        };
        Ok(Server::start(&self.bins, &launch).await?)
    }

    /// Peak memory against the configured bound plus the slack, when a bound was given.
    fn within_bound(&self, peak: u64) -> Cell {
        match self.memory_bound_mib {
            Some(bound) => {
                let limit = (bound + ATTACK_RSS_SLACK_MIB) << 20;
                Cell::Text(format!(
                    "{} ({:.0} MB)",
                    if peak <= limit { "met" } else { "not met" },
                    limit as f64 / 1e6
                ))
            }
            None => Cell::Text("no bound given (--memory-bound-mib)".into()),
        }
    }

    /// Palaver only: the Node reference has no catch-up cursors.
    pub(super) async fn reconnect_storm(&self, rows: &mut Vec<Row>) -> bool {
        if !self.servers.contains(&Kind::Palaver) {
            return true;
        }
        let p = &self.plan.reconnect;
        log(format!(
            "reconnect storm, {} clients with cursors: Palaver",
            p.clients
        ));
        let result = async {
            let mut server = self.start_hostile(Kind::Palaver).await?;
            let r = storm::run(&mut server, p, &log).await;
            server.stop().await;
            r
        }
        .await;
        if let Ok(s) = &result {
            log(format!(
                "  {} of {} caught up, the last {}; lost {}, doubled {}, missing at synced {}, gaps {}, recovered by sync {}; bystanders' ack p99 {:.1} ms; generator {:.0}% busy",
                s.caught_up,
                s.clients,
                s.all_caught_up
                    .map_or("never".to_owned(), |t| format!("{t:.1} s after the stop")),
                s.lost,
                s.stats.doubled,
                s.stats.missing_at_synced,
                s.stats.gaps,
                s.recovered,
                s.bystanders.ack_p99_ms(),
                s.generator_load * 100.0
            ));
        }
        let ok = matches!(&result, Ok(s) if s.complete());
        let scenario = format!(
            "Reconnect storm: {} clients with cursors, server restarted (Palaver only)",
            p.clients
        );
        let mut results = Pair::new();
        results.set(Kind::Palaver, result);
        let one = [&results.palaver, &None];
        let mut push = |metric: &str, better: Better, get: &dyn Fn(&storm::Storm) -> Cell| {
            rows.push(row(&scenario, metric, better, one, get));
        };
        push("clients caught up again", Better::Higher, &|s| {
            of(s.caught_up, s.clients)
        });
        push(
            "all caught up, seconds after the stop (target ≤ 30 s)",
            Better::Lower,
            &|s| seconds(s.all_caught_up, "not all"),
        );
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            push(
                &format!("caught up, {name}, seconds after the stop"),
                Better::Lower,
                &|s| Cell::of(s.stats.caught_up.quantile(q) as f64 / 1e6, "s"),
            );
        }
        push(
            "reconnected (namespace connected), p99, seconds after the stop",
            Better::Lower,
            &|s| Cell::of(s.stats.reconnected.quantile(0.99) as f64 / 1e6, "s"),
        );
        push("messages lost", Better::Lower, &|s| Cell::count(s.lost));
        push("messages delivered twice", Better::Lower, &|s| {
            Cell::count(s.stats.doubled)
        });
        push(
            "messages missing when their `synced` came",
            Better::Lower,
            &|s| Cell::count(s.stats.missing_at_synced),
        );
        push(
            "catch-ups that hit the window (`gap`)",
            Better::Lower,
            &|s| Cell::count(s.stats.gaps),
        );
        push(
            "live deliveries dropped, recovered by a `sync`",
            Better::Lower,
            &|s| Cell::count(s.recovered),
        );
        push("messages replayed", Better::Lower, &|s| {
            Cell::count(s.stats.replayed)
        });
        push(
            "connection attempts (failed, refused)",
            Better::Lower,
            &|s| {
                Cell::Text(format!(
                    "{} ({}, {})",
                    s.stats.attempts, s.stats.failed_attempts, s.stats.refused
                ))
            },
        );
        push("bystanders' ack p99", Better::Lower, &|s| {
            Cell::of(s.bystanders.ack_p99_ms(), "ms")
        });
        push(
            "bystanders' sends refused or unanswered",
            Better::Lower,
            &|s| {
                Cell::Text(format!(
                    "{} + {} of {}",
                    s.bystanders.tally.failed,
                    s.bystanders.unanswered(),
                    s.bystanders.tally.sent
                ))
            },
        );
        push(
            "bystanders back, seconds after the stop",
            Better::Lower,
            &|s| Cell::of(s.bystanders_back, "s"),
        );
        push("server stopped in / listening after", Better::Lower, &|s| {
            Cell::Text(format!(
                "{:.2} s{} / {:.2} s",
                s.restart.stopping.as_secs_f64(),
                if s.restart.killed { " (killed)" } else { "" },
                s.restart.starting.as_secs_f64()
            ))
        });
        push("server peak RSS after the restart", Better::Lower, &|s| {
            mb(s.peak_rss)
        });
        push("time to gather the crowd", Better::Lower, &|s| {
            Cell::of(s.gather_seconds, "s")
        });
        push("generator busy during the storm", Better::Lower, &|s| {
            Cell::of(s.generator_load * 100.0, "% of a core")
        });
        ok
    }

    pub(super) async fn connection_storm(&self, order: [Kind; 3], rows: &mut Vec<Row>) -> bool {
        let p = &self.plan.arrivals;
        let mut results = Pair::new();
        for kind in self.kinds(order, false) {
            log(format!(
                "connection storm, {} guests with replay in {:.1} s: {}",
                p.guests,
                p.within.as_secs_f64(),
                kind.label()
            ));
            let result = async {
                let server = self.start_hostile(kind).await?;
                let r = guests::run(&server, p).await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(g) = &result {
                log(format!(
                    "  {} of {} replayed ({} messages each), {} failed, {} missing, {} doubled; bystanders' ack p99 {:.1} ms; peak RSS {:.1} MB; generator {:.0}% busy",
                    g.full_replays,
                    g.guests,
                    g.expected,
                    g.failed,
                    g.missing,
                    g.doubled,
                    g.bystanders.ack_p99_ms(),
                    g.peak_rss as f64 / 1e6,
                    g.generator_load * 100.0
                ));
            }
            results.set(kind, result);
        }
        let ok = results
            .all()
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(g)) if g.complete()));
        let scenario = format!(
            "Connection storm: {} guests in {:.0} s, each replayed the lobby's newest {}",
            p.guests,
            p.within.as_secs_f64(),
            p.lobby_messages.min(app::events::MAX_REPLAY)
        );
        let both = [&results.palaver, &results.node];
        let mut push = |metric: &str, better: Better, get: &dyn Fn(&guests::GuestStorm) -> Cell| {
            rows.push(row(&scenario, metric, better, both, get));
        };
        push("bystanders' ack p99 (target < 1 s)", Better::Lower, &|g| {
            Cell::of(g.bystanders.ack_p99_ms(), "ms")
        });
        push(
            "bystanders' sends refused or unanswered",
            Better::Lower,
            &|g| {
                Cell::Text(format!(
                    "{} + {} of {}",
                    g.bystanders.tally.failed,
                    g.bystanders.unanswered(),
                    g.bystanders.tally.sent
                ))
            },
        );
        push("server peak RSS", Better::Lower, &|g| mb(g.peak_rss));
        push("server RSS before the storm", Better::Lower, &|g| {
            mb(g.rss_before)
        });
        push("guests with their whole replay", Better::Higher, &|g| {
            of(g.full_replays, g.guests)
        });
        push(
            "every guest replayed, seconds after the first arrived",
            Better::Lower,
            &|g| seconds(g.all_replayed, "not all"),
        );
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            push(&format!("a guest's replay, {name}"), Better::Lower, &|g| {
                Cell::of(ms(g.replay_time.quantile(q)), "ms")
            });
        }
        push("replayed messages missing, doubled", Better::Lower, &|g| {
            Cell::Text(format!("{}, {}", g.missing, g.doubled))
        });
        push("guests whose connection failed", Better::Lower, &|g| {
            Cell::count(g.failed as u64)
        });
        ok
    }

    pub(super) async fn attack(&self, order: [Kind; 3], a: Attack, rows: &mut Vec<Row>) -> bool {
        let p = &self.plan.attacks;
        let mut results = Pair::new();
        for kind in self.kinds(order, false) {
            if kind == Kind::Node && !a.applies_to_node() {
                continue;
            }
            log(format!("attack `{}`: {}", a.name(), kind.label()));
            let result = async {
                let server = self.start_hostile(kind).await?;
                let r = attack::run(&server, a, p).await;
                server.stop().await;
                r
            }
            .await;
            if let Ok(o) = &result {
                log(format!(
                    "  {} opened, {} still open; RSS {:.1} → peak {:.1}, end {:.1} MB{}; /healthz {} of {}; bystanders' ack p99 {:.1} ms",
                    o.opened,
                    o.still_open,
                    o.rss_before as f64 / 1e6,
                    o.peak_rss as f64 / 1e6,
                    o.rss_end as f64 / 1e6,
                    if o.guarded {
                        " (stopped by the memory guard)"
                    } else {
                        ""
                    },
                    o.health.answered,
                    o.health.asked,
                    o.bystanders.ack_p99_ms()
                ));
            }
            results.set(kind, result);
        }
        let ok = results
            .all()
            .iter()
            .filter(|r| r.is_some())
            .all(|r| matches!(r, Some(Ok(_))));
        let scenario = match a {
            Attack::History => format!(
                "Attack: one client asks `history` (100 of {} messages of 4,000 characters) and never reads (Palaver only)",
                p.long_messages
            ),
            Attack::Polling => format!(
                "Attack: {} polling sessions connect with replay and are never polled",
                p.polling_sessions
            ),
            Attack::Idle => format!(
                "Attack: {} TCP connections that send nothing, held {:.0} s",
                p.connections,
                p.hold.as_secs_f64()
            ),
            Attack::Slowloris => format!(
                "Attack: {} slowloris connections (a header line every {:.0} s), held {:.0} s",
                p.connections,
                p.header_every.as_secs_f64(),
                p.hold.as_secs_f64()
            ),
        };
        let both = [&results.palaver, &results.node];
        let mut push = |metric: &str, better: Better, get: &dyn Fn(&attack::Outcome) -> Cell| {
            rows.push(row(&scenario, metric, better, both, get));
        };
        push("server peak RSS", Better::Lower, &|o| mb(o.peak_rss));
        push(
            &format!("peak RSS ≤ the configured bound + {ATTACK_RSS_SLACK_MIB} MiB"),
            Better::Lower,
            &|o| self.within_bound(o.peak_rss),
        );
        push(
            "server RSS before, and at the end of the hold",
            Better::Lower,
            &|o| {
                Cell::Text(format!(
                    "{:.1} MB, {:.1} MB{}",
                    o.rss_before as f64 / 1e6,
                    o.rss_end as f64 / 1e6,
                    if o.guarded {
                        " (stopped early by the memory guard)"
                    } else {
                        ""
                    }
                ))
            },
        );
        push("bystanders' ack p99", Better::Lower, &|o| {
            Cell::of(o.bystanders.ack_p99_ms(), "ms")
        });
        push(
            "bystanders' sends refused or unanswered",
            Better::Lower,
            &|o| {
                Cell::Text(format!(
                    "{} + {} of {}",
                    o.bystanders.tally.failed,
                    o.bystanders.unanswered(),
                    o.bystanders.tally.sent
                ))
            },
        );
        push("`/healthz` answered", Better::Higher, &|o| {
            Cell::Text(format!("{} of {}", o.health.answered, o.health.asked))
        });
        push("`/healthz` p99", Better::Lower, &|o| {
            Cell::of(ms(o.health.latency.quantile(0.99)), "ms")
        });
        match a {
            Attack::History => {
                push("requests sent", Better::Lower, &|o| {
                    Cell::count(o.opened as u64)
                });
                push("attacker still connected at the end", Better::Lower, &|o| {
                    Cell::Text(if o.still_open > 0 { "yes" } else { "no" }.into())
                });
            }
            Attack::Polling => push("sessions opened", Better::Lower, &|o| {
                Cell::count(o.opened as u64)
            }),
            Attack::Idle | Attack::Slowloris => {
                push("connections opened", Better::Lower, &|o| {
                    Cell::count(o.opened as u64)
                });
                push(
                    "connections the server still held at the end",
                    Better::Lower,
                    &|o| Cell::count(o.still_open as u64),
                );
            }
        }
        ok
    }
}
