//! The jobs' part of the suite (Palaver only: the Node reference has no job queue): a Slack
//! export imported on SQLite and on Postgres, its rate, the server's memory, and a bystander's
//! acks meanwhile; then a bystander's acks while outgoing webhooks fail.

use std::path::PathBuf;
use std::time::Instant;

use crate::report::{self, Better, Cell, Row};
use crate::scenario::{ScenarioError, hooks, import, ms};
use crate::servers::{Kind, Launch, Server};
use crate::services;
use crate::suite::{Pair, Suite, error_cell, log, row};

/// Messages a second an import should reach on SQLite.
const IMPORT_RATE_TARGET: f64 = 50_000.0;
/// RSS over what the server held before the upload, for 1,000,000 messages.
const IMPORT_EXTRA_RSS_TARGET_MB: f64 = 200.0;
/// A bystander's ack p99 during an import, over its idle one.
const BYSTANDER_SLOWDOWN_TARGET: f64 = 1.5;

/// A scratch directory, removed with it.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mb(bytes: u64) -> Cell {
    Cell::of(bytes as f64 / 1e6, "MB")
}

fn token() -> String {
    format!("bench-admin-{}", uuid::Uuid::new_v4().simple())
}

impl Suite {
    /// `import` (SQLite) and `import-postgres`, on one archive made for both.
    pub(super) async fn imports(&self, rows: &mut Vec<Row>) -> bool {
        let (sqlite, postgres) = (self.wants("import"), self.wants("import-postgres"));
        if !self.servers.contains(&Kind::Palaver) || !(sqlite || postgres) {
            return true;
        }
        let p = &self.plan.import;
        let made = async {
            let dir = std::env::temp_dir().join(format!(
                "palaver-bench-import-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|e| ScenarioError::Failed(format!("a scratch directory: {e}")))?;
            let scratch = Scratch(dir);
            let archive = scratch.0.join("slack-export.zip");
            let began = Instant::now();
            let shape = p.shape;
            let path = archive.clone();
            let bytes = tokio::task::spawn_blocking(move || shape.write(&path))
                .await
                .map_err(|e| ScenarioError::Failed(format!("making the export: {e}")))?
                .map_err(|e| ScenarioError::Failed(format!("making the export: {e}")))?;
            log(format!(
                "  a Slack export of {} messages ({} channels × {} days × {}): {:.1} MB, made in {:.1} s",
                p.shape.messages(),
                p.shape.channels,
                p.shape.days,
                p.shape.per_day,
                bytes as f64 / 1e6,
                began.elapsed().as_secs_f64()
            ));
            Ok::<_, ScenarioError>((scratch, archive))
        };
        log("import: making the archive".into());
        let (_scratch, archive) = match made.await {
            Ok(made) => made,
            Err(e) => {
                rows.push(Row {
                    scenario: "Import of a Slack export (Palaver only)".into(),
                    metric: "all".into(),
                    palaver: error_cell(&e),
                    node: Cell::Missing,
                    better: Better::Higher,
                });
                return false;
            }
        };
        let mut ok = true;
        if sqlite {
            log("import on SQLite: Palaver".into());
            let result = self.import_on(None, &archive).await;
            ok &= self.import_rows(rows, "SQLite", result);
        }
        if postgres {
            log("import on Postgres: Palaver".into());
            let result = async {
                let mut pg = services::postgres(self.server_core, &self.postgres_conf).await?;
                let r = self.import_on(Some(&mut pg), &archive).await;
                pg.stop().await;
                r
            }
            .await;
            ok &= self.import_rows(rows, "Postgres", result);
        }
        ok
    }

    /// The import on a fresh server: on SQLite, or on a new database of `postgres`.
    async fn import_on(
        &self,
        postgres: Option<&mut services::Postgres>,
        archive: &std::path::Path,
    ) -> Result<import::Imported, ScenarioError> {
        let token = token();
        let (database, services) = match postgres {
            Some(pg) => (Some(pg.database().await?), vec![pg.pid()]),
            None => (None, Vec::new()),
        };
        let launch = Launch {
            database,
            admin_token: Some(token.clone()),
            ..Launch::new(Kind::Palaver, Some(self.server_core))
        };
        let server = Server::start(&self.bins, &launch).await?;
        let r = import::run(&server, &token, archive, &self.plan.import, &services).await;
        server.stop().await;
        if let Ok(i) = &r {
            log(format!(
                "  {}: {:.0} messages/s ({:.1} s in all: upload {:.1} s, job {:.1} s); RSS {:.1} → peak {:.1} MB (+{:.1}); server {:.1} µs/message, database {:.1} µs/message; bystander's ack p99 {:.1} ms idle, {:.1} ms during",
                i.job.summary.as_deref().unwrap_or("no summary"),
                i.per_second(),
                i.total_seconds,
                i.upload_seconds,
                i.job_seconds,
                i.rss_before as f64 / 1e6,
                i.peak_rss as f64 / 1e6,
                i.extra_rss() as f64 / 1e6,
                i.server_cpu * 1e6 / i.messages.max(1) as f64,
                i.service_cpu * 1e6 / i.messages.max(1) as f64,
                i.idle.ack_p99_ms(),
                i.during.ack_p99_ms()
            ));
        }
        r
    }

    fn import_rows(
        &self,
        rows: &mut Vec<Row>,
        backend: &str,
        result: Result<import::Imported, ScenarioError>,
    ) -> bool {
        let p = &self.plan.import;
        let ok = matches!(&result, Ok(i) if i.complete()
            && i.during.tally.failed == 0
            && i.during.unanswered() == 0);
        let scenario = format!(
            "Import of a Slack export, {} messages ({} channels × {} days × {}), on {backend}; a bystander posting {:.0}/s (Palaver only: Node has no jobs)",
            group(p.shape.messages()),
            p.shape.channels,
            p.shape.days,
            p.shape.per_day,
            p.bystander_rate
        );
        let mut results = Pair::new();
        results.set(Kind::Palaver, result);
        let one = [&results.palaver, &None];
        let mut push = |metric: &str, better: Better, get: &dyn Fn(&import::Imported) -> Cell| {
            rows.push(row(&scenario, metric, better, one, get));
        };
        push(
            "messages stored, as the job's summary says",
            Better::Higher,
            &|i| match i.stored {
                Some(n) if i.complete() => {
                    Cell::Text(format!("{} of {}", group(n), group(i.messages)))
                }
                _ => Cell::Text(format!(
                    "{}: {}",
                    i.job.state.as_str(),
                    i.job.summary.as_deref().unwrap_or("no summary")
                )),
            },
        );
        let on_sqlite = backend == "SQLite";
        push(
            &if on_sqlite {
                format!(
                    "import rate: messages stored ÷ (finishedAt − upload's start) (target ≥ {}/s)",
                    group(IMPORT_RATE_TARGET as u64)
                )
            } else {
                "import rate: messages stored ÷ (finishedAt − upload's start)".to_owned()
            },
            Better::Higher,
            &|i| {
                let cell = Cell::of(i.per_second(), "/s");
                if on_sqlite {
                    cell.judged(i.per_second() >= IMPORT_RATE_TARGET)
                } else {
                    cell
                }
            },
        );
        push(
            "of which the upload (archive stored, `202`)",
            Better::Lower,
            &|i| {
                Cell::Text(format!(
                    "{:.1} s for {:.1} MB",
                    i.upload_seconds,
                    i.archive_bytes as f64 / 1e6
                ))
            },
        );
        push(
            "and the job (createdAt → finishedAt)",
            Better::Lower,
            &|i| Cell::of(i.job_seconds, "s"),
        );
        push("server CPU per message", Better::Lower, &|i| {
            Cell::of(i.server_cpu * 1e6 / i.messages.max(1) as f64, "µs")
        });
        if !on_sqlite {
            push("Postgres's CPU per message", Better::Lower, &|i| {
                Cell::of(i.service_cpu * 1e6 / i.messages.max(1) as f64, "µs")
            });
        }
        push("server RSS before the upload", Better::Lower, &|i| {
            mb(i.rss_before)
        });
        push("server peak RSS", Better::Lower, &|i| mb(i.peak_rss));
        push(
            &format!(
                "extra RSS at the peak (target ≤ {IMPORT_EXTRA_RSS_TARGET_MB:.0} MB for 1,000,000 messages)"
            ),
            Better::Lower,
            &|i| {
                let extra = i.extra_rss() as f64 / 1e6;
                mb(i.extra_rss()).judged(extra <= IMPORT_EXTRA_RSS_TARGET_MB)
            },
        );
        push(
            "bystander's ack p99, idle (before the upload)",
            Better::Lower,
            &|i| Cell::of(i.idle.ack_p99_ms(), "ms"),
        );
        push(
            "bystander's ack p99 during the upload and the import",
            Better::Lower,
            &|i| Cell::of(i.during.ack_p99_ms(), "ms"),
        );
        push(
            &format!("… over the idle p99 (target ≤ {BYSTANDER_SLOWDOWN_TARGET}×)"),
            Better::Lower,
            &|i| Cell::of(i.slowdown(), "×").judged(i.slowdown() <= BYSTANDER_SLOWDOWN_TARGET),
        );
        push("bystander's ack p50, idle / during", Better::Lower, &|i| {
            Cell::Text(format!(
                "{:.2} ms / {:.2} ms",
                ms(i.idle.tally.ack.quantile(0.5)),
                ms(i.during.tally.ack.quantile(0.5))
            ))
        });
        push(
            "bystander's sends refused or unanswered (during)",
            Better::Lower,
            &|i| {
                Cell::Text(format!(
                    "{} + {} of {}",
                    i.during.tally.failed,
                    i.during.unanswered(),
                    i.during.tally.sent
                ))
            },
        );
        ok
    }

    /// `hooks-failing`: a bystander's acks while outgoing webhooks of its room fail.
    pub(super) async fn hooks_failing(&self, rows: &mut Vec<Row>) -> bool {
        if !self.servers.contains(&Kind::Palaver) {
            return true;
        }
        let p = &self.plan.hooks;
        log(format!("{} outgoing webhooks failing: Palaver", p.hooks));
        let result = async {
            let token = token();
            let launch = Launch {
                admin_token: Some(token.clone()),
                webhooks_allow_private: true,
                ..Launch::new(Kind::Palaver, Some(self.server_core))
            };
            let server = Server::start(&self.bins, &launch).await?;
            let r = hooks::run(&server, &token, p).await;
            server.stop().await;
            r
        }
        .await;
        if let Ok(f) = &result {
            log(format!(
                "  bystander's ack p99 {:.1} ms idle, {:.1} ms while {} of {} delivery jobs fail ({} attempts); server CPU {:.1}% → {:.1}% of a core",
                f.idle.ack_p99_ms(),
                f.during.ack_p99_ms(),
                f.failing_jobs,
                f.jobs,
                f.attempts,
                f.idle_cpu * 100.0,
                f.failing_cpu * 100.0
            ));
        }
        let ok = matches!(&result, Ok(f) if f.failing_jobs > 0
            && f.during.tally.failed == 0
            && f.during.unanswered() == 0);
        let scenario = format!(
            "{} outgoing webhooks on a bystander's room failing (a closed loopback port), {:.0} s; the bystander posting {:.0}/s (Palaver only: Node has no webhooks)",
            p.hooks,
            p.window.as_secs_f64(),
            p.bystander_rate
        );
        let mut results = Pair::new();
        results.set(Kind::Palaver, result);
        let one = [&results.palaver, &None];
        let mut push = |metric: &str, better: Better, get: &dyn Fn(&hooks::Failing) -> Cell| {
            rows.push(row(&scenario, metric, better, one, get));
        };
        push(
            "bystander's ack p99, idle (no hooks yet)",
            Better::Lower,
            &|f| Cell::of(f.idle.ack_p99_ms(), "ms"),
        );
        push(
            "bystander's ack p99 while the hooks fail",
            Better::Lower,
            &|f| Cell::of(f.during.ack_p99_ms(), "ms"),
        );
        push(
            &format!("… over the idle p99 (≤ {BYSTANDER_SLOWDOWN_TARGET}× as for imports)"),
            Better::Lower,
            &|f| Cell::of(f.slowdown(), "×").judged(f.slowdown() <= BYSTANDER_SLOWDOWN_TARGET),
        );
        push("bystander's ack p50, idle / failing", Better::Lower, &|f| {
            Cell::Text(format!(
                "{:.2} ms / {:.2} ms",
                ms(f.idle.tally.ack.quantile(0.5)),
                ms(f.during.tally.ack.quantile(0.5))
            ))
        });
        push(
            "delivery jobs failing at the end, of the hooks' jobs",
            Better::Lower,
            &|f| Cell::Text(format!("{} of {}", f.failing_jobs, f.jobs)),
        );
        push(
            "delivery attempts made (each failed)",
            Better::Lower,
            &|f| Cell::count(f.attempts),
        );
        push(
            "server CPU, idle → while the hooks fail",
            Better::Lower,
            &|f| {
                Cell::Text(format!(
                    "{:.1}% → {:.1}% of a core",
                    f.idle_cpu * 100.0,
                    f.failing_cpu * 100.0
                ))
            },
        );
        push(
            "bystander's sends refused or unanswered (while failing)",
            Better::Lower,
            &|f| {
                Cell::Text(format!(
                    "{} + {} of {}",
                    f.during.tally.failed,
                    f.during.unanswered(),
                    f.during.tally.sent
                ))
            },
        );
        ok
    }
}

/// 1234567 as "1,234,567".
fn group(n: u64) -> String {
    report::group(i64::try_from(n).unwrap_or(i64::MAX))
}
