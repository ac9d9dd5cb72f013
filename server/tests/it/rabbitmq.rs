//! The tests' RabbitMQ (`services::RabbitMq`): a node of the test's own starts, takes AMQP
//! connections, keeps a durable queue's persistent messages across a restart, and stops.

use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use crate::services::RabbitMq;
use crate::support::PATIENCE;

async fn connect(url: &str) -> lapin::Result<Connection> {
    tokio::time::timeout(
        PATIENCE,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .expect("connecting to RabbitMQ timed out")
}

async fn durable_queue(connection: &Connection) -> lapin::Channel {
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            "palaver.test".into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
}

#[tokio::test]
async fn rabbitmq_starts_keeps_a_persistent_message_across_a_restart_and_stops() {
    // Two nodes at once, as two test processes would start: each has its own name and ports.
    let spawn = || tokio::task::spawn_blocking(RabbitMq::own);
    let (one, two) = tokio::join!(spawn(), spawn());
    let (mut rabbit, other) = (one.unwrap(), two.unwrap());
    assert_ne!(rabbit.node(), other.node());
    eprintln!(
        "RabbitMQ started in {:?} and {:?} (two at once)",
        rabbit.started_in, other.started_in
    );
    drop(other);

    let connection = connect(&rabbit.amqp_url())
        .await
        .expect("an AMQP connection");
    let channel = durable_queue(&connection).await;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = channel
        .basic_publish(
            "".into(),
            "palaver.test".into(),
            BasicPublishOptions::default(),
            b"job 1",
            // Persistent: written to disk, so that it outlives the broker.
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack(), "the broker took it: {confirm:?}");

    rabbit.stop();
    let refused = tokio::time::timeout(
        Duration::from_secs(2),
        Connection::connect(&rabbit.amqp_url(), ConnectionProperties::default()),
    )
    .await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "a stopped node takes no connection"
    );
    let restart = std::time::Instant::now();
    let mut rabbit = tokio::task::spawn_blocking(move || {
        rabbit.start();
        rabbit
    })
    .await
    .unwrap();
    eprintln!(
        "RabbitMQ started again in {:?} ({:?} with the test's waiting)",
        rabbit.started_in,
        restart.elapsed()
    );

    let connection = connect(&rabbit.amqp_url())
        .await
        .expect("an AMQP connection after the restart");
    let channel = durable_queue(&connection).await;
    let message = channel
        .basic_get("palaver.test".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the persistent message outlived the restart");
    assert_eq!(message.delivery.data, b"job 1");
    connection.close(200, "done".into()).await.unwrap();

    let dir_gone = {
        let url = rabbit.amqp_url();
        rabbit.stop();
        drop(rabbit);
        url
    };
    assert!(
        connect(&dir_gone).await.is_err(),
        "a dropped node takes no connection"
    );
}
