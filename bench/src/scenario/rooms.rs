//! Many rooms: clients in rooms of ten, one member of each publishing, at a fixed total rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::recorder::Recorder;
use crate::scenario::{Publisher, ScenarioError, Step, Watched, all, gather, publish_open_loop};
use crate::servers::Server;

pub(crate) struct ManyRooms {
    pub(crate) step: Step,
    /// How long connecting everyone and joining the rooms took.
    pub(crate) gather_seconds: f64,
    /// When each part of it ended, in seconds from the start: the owners connected, their
    /// rooms created, the members connected, the members joined.
    pub(crate) phases: [f64; 4],
}

pub(crate) async fn run(
    server: &Server,
    clients: usize,
    room_size: usize,
    rate: f64,
    seconds: f64,
) -> Result<ManyRooms, ScenarioError> {
    let rooms = clients / room_size;
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    // Each room's first member creates it, then the others join.
    let owners = gather(server.addr, rooms, |r| format!("own{r}"), &recorder).await?;
    let owned = started.elapsed().as_secs_f64();
    all(owners
        .iter()
        .enumerate()
        .map(|(r, c)| c.create_room_owned(room(r))))
    .await?;
    let created = started.elapsed().as_secs_f64();
    let members = gather(
        server.addr,
        rooms * (room_size - 1),
        |i| format!("mem{i}"),
        &recorder,
    )
    .await?;
    let connected = started.elapsed().as_secs_f64();
    all(members
        .iter()
        .enumerate()
        .map(|(i, c)| c.join_room_owned(room(i % rooms))))
    .await?;
    let gather_seconds = started.elapsed().as_secs_f64();
    // Let what the server tells of all those arrivals settle before publishing: counts and
    // presence are paced, and a room's "joined" notices gathered for 3 s after its first.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let publishers: Vec<Publisher> = owners
        .iter()
        .enumerate()
        .map(|(r, client)| Publisher {
            client,
            room: room(r),
        })
        .collect();
    let step = publish_open_loop(
        &publishers,
        room_size as u64,
        rate,
        seconds,
        Duration::from_secs(5),
        std::slice::from_ref(&recorder),
        &Watched::server(server.pid()),
    )
    .await?;
    drop(members);
    Ok(ManyRooms {
        step,
        gather_seconds,
        phases: [owned, created, connected, gather_seconds],
    })
}

fn room(r: usize) -> String {
    format!("room{r}")
}
