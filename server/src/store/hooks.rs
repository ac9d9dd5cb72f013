//! Webhooks and bots: incoming webhooks and bot tokens (kept by the hash of their token),
//! outgoing webhooks (where each has delivered up to), and the messages they gave up on.
//!
//! Made and changed through the pool, as bans are: none of it is numbered like a room's
//! messages, so it needs no place in the writer's batches.

use sqlx::FromRow;

use crate::store::{COLUMNS, Store, StoreError, StoredMessage};

/// A URL that posts to one room.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct IncomingHook {
    pub(crate) id: String,
    pub(crate) room: String,
    /// The author of its messages when a post names none.
    pub(crate) name: String,
    /// SHA-256 of its token, hex (`crate::tokens`).
    pub(crate) token_hash: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

/// A token of the bot API.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct BotToken {
    pub(crate) id: String,
    /// The author of the bot's messages.
    pub(crate) name: String,
    pub(crate) token_hash: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

/// A URL that each new message of one room is POSTed to, signed with `secret`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct OutgoingHook {
    pub(crate) id: String,
    pub(crate) room: String,
    pub(crate) url: String,
    pub(crate) secret: String,
    pub(crate) created_at: i64,
    pub(crate) removed_at: Option<i64>,
    /// The id of the last message of the room delivered or given up on.
    pub(crate) delivered_up_to: i64,
}

/// An outgoing webhook with how many messages it gave up on, for `/admin`'s list.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct OutgoingHookStatus {
    #[sqlx(flatten)]
    pub(crate) hook: OutgoingHook,
    pub(crate) dead_letters: i64,
}

/// A message an outgoing webhook gave up on.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct DeadLetter {
    pub(crate) hook: String,
    pub(crate) message: i64,
    pub(crate) attempts: i64,
    pub(crate) last_error: String,
    pub(crate) at: i64,
}

const INCOMING: &str = "id, room, name, token_hash, created_at, revoked_at";
const BOT: &str = "id, name, token_hash, created_at, revoked_at";
const OUTGOING: &str = "id, room, url, secret, created_at, removed_at, delivered_up_to";

impl Store {
    pub(crate) async fn create_incoming_hook(&self, hook: &IncomingHook) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO incoming_webhooks ({INCOMING}) VALUES ($1, $2, $3, $4, $5, $6)");
        on_pool!(self, p => sqlx::query(&sql)
            .bind(&hook.id)
            .bind(&hook.room)
            .bind(&hook.name)
            .bind(&hook.token_hash)
            .bind(hook.created_at)
            .bind(hook.revoked_at)
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    pub(crate) async fn incoming_hook(&self, id: &str) -> Result<Option<IncomingHook>, StoreError> {
        let sql = format!("SELECT {INCOMING} FROM incoming_webhooks WHERE id = $1");
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?))
    }

    /// The incoming webhooks of `room` (of every room when `None`), revoked ones included,
    /// oldest first.
    pub(crate) async fn incoming_hooks(
        &self,
        room: Option<&str>,
    ) -> Result<Vec<IncomingHook>, StoreError> {
        let sql = format!(
            "SELECT {INCOMING} FROM incoming_webhooks WHERE $1 IS NULL OR room = $1
             ORDER BY created_at, id"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(room).fetch_all(p).await?))
    }

    /// Revokes the incoming webhook `id` from `now` (or from when it was revoked already):
    /// the hook, or `None` when there is none.
    pub(crate) async fn revoke_incoming_hook(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<IncomingHook>, StoreError> {
        let sql = format!(
            "UPDATE incoming_webhooks SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
             RETURNING {INCOMING}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(p).await?))
    }

    pub(crate) async fn create_bot(&self, bot: &BotToken) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO bot_tokens ({BOT}) VALUES ($1, $2, $3, $4, $5)");
        on_pool!(self, p => sqlx::query(&sql)
            .bind(&bot.id)
            .bind(&bot.name)
            .bind(&bot.token_hash)
            .bind(bot.created_at)
            .bind(bot.revoked_at)
            .execute(p)
            .await
            .map(drop)?);
        Ok(())
    }

    pub(crate) async fn bot(&self, id: &str) -> Result<Option<BotToken>, StoreError> {
        let sql = format!("SELECT {BOT} FROM bot_tokens WHERE id = $1");
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?))
    }

    /// Every bot token, revoked ones included, oldest first.
    pub(crate) async fn bots(&self) -> Result<Vec<BotToken>, StoreError> {
        let sql = format!("SELECT {BOT} FROM bot_tokens ORDER BY created_at, id");
        Ok(on_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?))
    }

    /// Revokes the bot token `id` from `now` (or from when it was revoked already).
    pub(crate) async fn revoke_bot(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<BotToken>, StoreError> {
        let sql = format!(
            "UPDATE bot_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
             RETURNING {BOT}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(p).await?))
    }

    /// Makes an outgoing webhook of `room`, starting after the room's newest message: what
    /// was posted before it is not its to deliver.
    pub(crate) async fn create_outgoing_hook(
        &self,
        id: &str,
        room: &str,
        url: &str,
        secret: &str,
        now: i64,
    ) -> Result<OutgoingHook, StoreError> {
        let sql = format!(
            "INSERT INTO outgoing_webhooks ({OUTGOING})
             VALUES ($1, $2, $3, $4, $5, NULL,
                     COALESCE((SELECT id FROM messages WHERE room = $2
                               ORDER BY seq DESC LIMIT 1), 0))
             RETURNING {OUTGOING}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(id)
            .bind(room)
            .bind(url)
            .bind(secret)
            .bind(now)
            .fetch_one(p)
            .await?))
    }

    pub(crate) async fn outgoing_hook(&self, id: &str) -> Result<Option<OutgoingHook>, StoreError> {
        let sql = format!("SELECT {OUTGOING} FROM outgoing_webhooks WHERE id = $1");
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?))
    }

    /// The outgoing webhooks of `room` (of every room when `None`) that are not removed,
    /// oldest first: those a new message of the room is delivered to.
    #[cfg(test)]
    pub(crate) async fn live_outgoing_hooks(
        &self,
        room: Option<&str>,
    ) -> Result<Vec<OutgoingHook>, StoreError> {
        let sql = format!(
            "SELECT {OUTGOING} FROM outgoing_webhooks
             WHERE removed_at IS NULL AND ($1 IS NULL OR room = $1)
             ORDER BY created_at, id"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(room).fetch_all(p).await?))
    }

    /// The live outgoing webhooks whose room has a message past what they delivered.
    pub(crate) async fn hooks_with_pending(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT h.id FROM outgoing_webhooks h
             WHERE h.removed_at IS NULL
               AND (SELECT m.id FROM messages m WHERE m.room = h.room
                    ORDER BY m.seq DESC LIMIT 1) > h.delivered_up_to
             ORDER BY h.id",
        )
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Every outgoing webhook of `room` (of every room when `None`), removed ones included,
    /// with how many messages each gave up on; oldest first.
    pub(crate) async fn outgoing_hooks(
        &self,
        room: Option<&str>,
    ) -> Result<Vec<OutgoingHookStatus>, StoreError> {
        let sql = format!(
            "SELECT {OUTGOING},
                    (SELECT COUNT(*) FROM outgoing_dead_letters d WHERE d.hook = h.id)
                        AS dead_letters
             FROM outgoing_webhooks h
             WHERE $1 IS NULL OR room = $1
             ORDER BY created_at, id"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(room).fetch_all(p).await?))
    }

    /// Removes the outgoing webhook `id` from `now` (or from when it was removed already):
    /// nothing more is delivered to it. Kept, with its dead letters, for `/admin` to show.
    pub(crate) async fn remove_outgoing_hook(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<OutgoingHook>, StoreError> {
        let sql = format!(
            "UPDATE outgoing_webhooks SET removed_at = COALESCE(removed_at, $1) WHERE id = $2
             RETURNING {OUTGOING}"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(p).await?))
    }

    /// Moves the hook's `delivered_up_to` from `from` to `to`, if it is still at `from` and
    /// the hook is not removed: whether it moved. Two deliveries of one hook racing each other
    /// cannot move it back.
    pub(crate) async fn advance_delivered(
        &self,
        hook: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE outgoing_webhooks SET delivered_up_to = $1
                   WHERE id = $2 AND delivered_up_to = $3 AND removed_at IS NULL";
        let done = on_pool!(self, p => sqlx::query(sql)
            .bind(to)
            .bind(hook)
            .bind(from)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records that `hook` gave up on `messages` after `attempts`, the last failing with
    /// `error`. Recording one again (a retried job) updates it.
    pub(crate) async fn record_dead_letters(
        &self,
        hook: &str,
        messages: &[i64],
        attempts: u32,
        error: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO outgoing_dead_letters (hook, message, attempts, last_error, at)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (hook, message) DO UPDATE SET
                       attempts = excluded.attempts, last_error = excluded.last_error,
                       at = excluded.at";
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            for message in messages {
                sqlx::query(sql)
                    .bind(hook)
                    .bind(message)
                    .bind(i64::from(attempts))
                    .bind(error)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest `limit` dead letters of `hook` (of every hook when `None`), newest first.
    pub(crate) async fn dead_letters(
        &self,
        hook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let sql = "SELECT hook, message, attempts, last_error, at FROM outgoing_dead_letters
                   WHERE $1 IS NULL OR hook = $1
                   ORDER BY at DESC, message DESC LIMIT $2";
        Ok(on_pool!(self, p => sqlx::query_as(sql)
            .bind(hook)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }

    /// How many messages `hook` gave up on.
    pub(crate) async fn dead_letter_count(&self, hook: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM outgoing_dead_letters WHERE hook = $1";
        let (n,): (i64,) = on_pool!(self, p => sqlx::query_as(sql).bind(hook).fetch_one(p).await?);
        Ok(n)
    }

    /// The first `limit` messages of `room` after its `seq` `after`, in `seq` order.
    pub(crate) async fn after_seq(
        &self,
        room: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        Ok(on_pool!(self, p => sqlx::query_as(&sql)
            .bind(room)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(p)
            .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewMessage;
    use crate::store::tests::stores;
    use app::events::MessageKind;

    async fn post(store: &Store, room: &str, text: &str) -> StoredMessage {
        store
            .insert(NewMessage {
                room,
                author: "ci",
                text,
                client_offset: None,
                sender: None,
                kind: Some(MessageKind::Bot),
                ..Default::default()
            })
            .await
            .unwrap()
            .message
    }

    #[tokio::test]
    async fn incoming_webhooks_and_bots_are_made_found_and_revoked() {
        for (_dir, store) in stores().await {
            let hook = IncomingHook {
                id: "h1".into(),
                room: "lobby".into(),
                name: "ci".into(),
                token_hash: "ab".into(),
                created_at: 5,
                revoked_at: None,
            };
            store.create_incoming_hook(&hook).await.unwrap();
            assert_eq!(store.incoming_hook("h1").await.unwrap(), Some(hook.clone()));
            assert_eq!(store.incoming_hook("h2").await.unwrap(), None);
            assert_eq!(
                store.incoming_hooks(Some("lobby")).await.unwrap(),
                std::slice::from_ref(&hook)
            );
            assert!(store.incoming_hooks(Some("rust")).await.unwrap().is_empty());
            let revoked = store.revoke_incoming_hook("h1", 9).await.unwrap().unwrap();
            assert_eq!(revoked.revoked_at, Some(9));
            // Revoking again keeps the first time.
            let again = store.revoke_incoming_hook("h1", 12).await.unwrap().unwrap();
            assert_eq!(again.revoked_at, Some(9));
            assert_eq!(store.revoke_incoming_hook("h2", 9).await.unwrap(), None);
            // A hook of a room that does not exist is refused by the database too.
            let nowhere = IncomingHook {
                id: "h3".into(),
                room: "nowhere".into(),
                ..hook
            };
            assert!(store.create_incoming_hook(&nowhere).await.is_err());

            let bot = BotToken {
                id: "b1".into(),
                name: "deploy".into(),
                token_hash: "cd".into(),
                created_at: 7,
                revoked_at: None,
            };
            store.create_bot(&bot).await.unwrap();
            assert_eq!(store.bots().await.unwrap(), std::slice::from_ref(&bot));
            assert_eq!(store.bot("b1").await.unwrap(), Some(bot));
            assert_eq!(
                store.revoke_bot("b1", 8).await.unwrap().unwrap().revoked_at,
                Some(8)
            );
            assert_eq!(store.revoke_bot("b9", 8).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn an_outgoing_webhook_starts_after_the_room_s_newest_and_moves_forward_once() {
        for (_dir, store) in stores().await {
            let before = post(&store, "lobby", "before").await;
            let hook = store
                .create_outgoing_hook("o1", "lobby", "https://example.org/", "s", 10)
                .await
                .unwrap();
            assert_eq!(hook.delivered_up_to, before.id);
            let after = post(&store, "lobby", "after").await;
            let unseen = store
                .oldest_after("lobby", hook.delivered_up_to, 10)
                .await
                .unwrap();
            assert_eq!(unseen, std::slice::from_ref(&after));
            // From where it was: moved. From a place it no longer is: not moved back.
            assert!(
                store
                    .advance_delivered("o1", before.id, after.id)
                    .await
                    .unwrap()
            );
            assert!(!store.advance_delivered("o1", before.id, 1).await.unwrap());
            assert_eq!(
                store
                    .outgoing_hook("o1")
                    .await
                    .unwrap()
                    .unwrap()
                    .delivered_up_to,
                after.id
            );

            store
                .record_dead_letters("o1", &[3, 4], 5, "down", 20)
                .await
                .unwrap();
            store
                .record_dead_letters("o1", &[4], 6, "still down", 30)
                .await
                .unwrap();
            let letters = store.dead_letters(Some("o1"), 10).await.unwrap();
            let seen: Vec<(i64, i64, &str)> = letters
                .iter()
                .map(|d| (d.message, d.attempts, d.last_error.as_str()))
                .collect();
            assert_eq!(seen, [(4, 6, "still down"), (3, 5, "down")]);
            assert_eq!(store.dead_letters(None, 1).await.unwrap().len(), 1);
            assert_eq!(store.dead_letter_count("o1").await.unwrap(), 2);
            let listed = store.outgoing_hooks(None).await.unwrap();
            assert_eq!((listed.len(), listed[0].dead_letters), (1, 2));

            // A second hook starts after the newest too; removed, it is no longer live and
            // cannot move.
            let second = store
                .create_outgoing_hook("o2", "lobby", "https://example.org/2", "s", 11)
                .await
                .unwrap();
            assert_eq!(second.delivered_up_to, after.id);
            assert_eq!(
                store
                    .live_outgoing_hooks(Some("lobby"))
                    .await
                    .unwrap()
                    .len(),
                2
            );
            let removed = store.remove_outgoing_hook("o2", 40).await.unwrap().unwrap();
            assert_eq!(removed.removed_at, Some(40));
            assert_eq!(store.live_outgoing_hooks(None).await.unwrap().len(), 1);
            assert!(
                !store
                    .advance_delivered("o2", after.id, after.id + 1)
                    .await
                    .unwrap()
            );
            assert_eq!(store.remove_outgoing_hook("o9", 40).await.unwrap(), None);

            // A room without messages: from the start.
            let sql = "INSERT INTO rooms (name, kind, created_at) VALUES ('quiet', 'room', 1)";
            on_pool!(store, p => sqlx::query(sql).execute(p).await.map(drop).unwrap());
            let quiet = store
                .create_outgoing_hook("o3", "quiet", "https://example.org/3", "s", 12)
                .await
                .unwrap();
            assert_eq!(quiet.delivered_up_to, 0);
        }
    }

    #[tokio::test]
    async fn a_room_is_read_by_seq() {
        for (_dir, store) in stores().await {
            for text in ["a", "b", "c"] {
                post(&store, "lobby", text).await;
            }
            let texts = |rows: Vec<StoredMessage>| -> Vec<String> {
                rows.into_iter().map(|m| m.text).collect()
            };
            assert_eq!(
                texts(store.after_seq("lobby", 0, 2).await.unwrap()),
                ["a", "b"]
            );
            assert_eq!(texts(store.after_seq("lobby", 2, 5).await.unwrap()), ["c"]);
            assert!(store.after_seq("lobby", 3, 5).await.unwrap().is_empty());
        }
    }
}
