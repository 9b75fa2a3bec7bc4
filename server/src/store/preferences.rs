//! What a user chose to keep: their defaults for the composer's row, and the row's settings
//! each message was sent with (read again when its answer comes later: a chat model's turn,
//! a resend whose first answer was lost).

use app::protocol::{AspectRatio, ImageId, ImageOptions, JobId, MessageId, Preferences, Quality, UserId};
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    pub async fn preferences(&self, user: UserId) -> Result<Preferences, StoreError> {
        let row = sqlx::query("SELECT pref_aspect, pref_quality, email FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(Preferences::default()) };
        let aspect = AspectRatio::parse(&row.try_get::<String, _>("pref_aspect")?).unwrap_or_default();
        let quality = row.try_get::<Option<String>, _>("pref_quality")?.and_then(|q| Quality::parse(&q));
        let email = row.try_get::<Option<String>, _>("email")?;
        Ok(Preferences { aspect, quality, email })
    }

    pub async fn set_preferences(&self, user: UserId, preferences: &Preferences) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET pref_aspect = $1, pref_quality = $2, email = $3 WHERE id = $4")
            .bind(preferences.aspect.id())
            .bind(preferences.quality.map(Quality::as_str))
            .bind(preferences.email.as_deref())
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Claims the right to send `user` the notice `kind` for `period` (a window's id): `true`
    /// once, whichever instance asks first.
    pub async fn claim_notice(&self, user: UserId, kind: &str, period: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO quota_notices (user_id, kind, period, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, kind, period) DO NOTHING",
        )
        .bind(user.0)
        .bind(kind)
        .bind(period)
        .bind(super::now_ms())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the row's settings of `user`'s message (nothing is written for the defaults).
    pub async fn set_message_options(
        &self,
        user: UserId,
        message: MessageId,
        options: &ImageOptions,
    ) -> Result<(), StoreError> {
        if *options == ImageOptions::default() {
            return Ok(());
        }
        let json = serde_json::to_string(options).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query("UPDATE messages SET options = $1 WHERE id = $2 AND user_id = $3")
            .bind(json)
            .bind(message.0)
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The row's settings `user`'s message was sent with (the defaults when none were).
    pub async fn message_options(&self, user: UserId, message: MessageId) -> Result<ImageOptions, StoreError> {
        let row = sqlx::query("SELECT options FROM messages WHERE id = $1 AND user_id = $2")
            .bind(message.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        let json = row.map(|r| r.try_get::<Option<String>, _>("options")).transpose()?.flatten();
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
    }

    /// `None` when `image` is not `user`'s (or does not exist); else the job that made it, if
    /// a job did (an upload was made by none).
    pub async fn job_of_image(&self, user: UserId, image: ImageId) -> Result<Option<Option<JobId>>, StoreError> {
        Ok(self.image_origin(user, image).await?.map(|(job, _, _)| job))
    }

    /// [`Store::job_of_image`] with the image's width and height, in the same read.
    pub async fn image_origin(
        &self,
        user: UserId,
        image: ImageId,
    ) -> Result<Option<(Option<JobId>, u32, u32)>, StoreError> {
        let row = sqlx::query("SELECT job_id, width, height FROM images WHERE id = $1 AND user_id = $2")
            .bind(image.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let side = |name: &str| row.try_get::<i64, _>(name).map(|v| u32::try_from(v).unwrap_or(0));
        Ok(Some((row.try_get::<Option<i64>, _>("job_id")?.map(JobId), side("width")?, side("height")?)))
    }
}
