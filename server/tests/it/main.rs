//! The server's integration tests, one module per area, in one binary so that the server,
//! Leptos and sqlx are linked once rather than once per area. Each runs the real server on
//! port 0 over real sockets with a real SQLite file (`support`).

mod accounts;
mod admin;
mod assets;
mod backup;
mod catchup;
mod changes;
// `palaver worker` killed or stopped mid-import, run by `scripts/test.sh`'s chaos step.
#[cfg(feature = "stress")]
mod chaos;
mod chat;
mod cluster;
mod compose;
mod data_files;
mod emitter;
mod headers;
mod hooks;
mod hostile;
mod imported;
mod jobs;
mod layout;
mod limits;
mod mentions;
mod origin;
mod presence;
mod private_rooms;
mod profiles;
mod rabbitmq;
mod rooms;
mod search;
mod service_worker;
mod uploads;
// The long hostile-load tests, run in a release build by `scripts/test.sh`'s stress step.
#[path = "../services/mod.rs"]
mod services;
#[cfg(feature = "stress")]
mod stress;
mod support;
