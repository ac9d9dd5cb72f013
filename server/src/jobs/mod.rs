//! Jobs: work handed to a queue.

#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the job queue publishes and consumes through it")
)]
pub(crate) mod amqp;
