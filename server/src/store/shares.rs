//! Share links: a public, unguessable, revocable token for one image or for a thread's
//! images. A visitor sees only what the token names, and only while it is not revoked; the
//! owner can list and revoke their links.

use app::gallery::SharedView;
use app::protocol::*;
use sqlx::Row;

use super::images::VariantBytes;
use super::{now_ms, Store, StoreError};

/// Most images a shared thread shows.
const MAX_SHARED_IMAGES: i64 = 200;

/// What a link shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareTarget {
    Image(ImageId),
    Thread(ThreadId),
}

/// 256 random bits as hex: two v4 UUIDs' random parts would be 244 bits; two whole ones are
/// simplest to read and still unguessable.
fn new_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

impl Store {
    /// A new link to `target`, if it is `user`'s.
    pub async fn create_share(&self, user: UserId, target: ShareTarget) -> Result<Option<String>, StoreError> {
        let owned = match target {
            ShareTarget::Image(id) => sqlx::query("SELECT id FROM images WHERE id = $1 AND user_id = $2").bind(id.0),
            ShareTarget::Thread(id) => sqlx::query("SELECT id FROM threads WHERE id = $1 AND user_id = $2").bind(id.0),
        }
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?
        .is_some();
        if !owned {
            return Ok(None);
        }
        let token = new_token();
        let (image, thread) = match target {
            ShareTarget::Image(id) => (Some(id.0), None),
            ShareTarget::Thread(id) => (None, Some(id.0)),
        };
        sqlx::query("INSERT INTO shares (token, user_id, image_id, thread_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&token)
            .bind(user.0)
            .bind(image)
            .bind(thread)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(Some(token))
    }

    /// Ends `user`'s link `token`; `false` when it was not theirs or already ended.
    pub async fn revoke_share(&self, user: UserId, token: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE shares SET revoked_at = $1 WHERE token = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(token)
                .bind(user.0)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `user`'s live links to `image`.
    pub async fn shares_of_image(&self, user: UserId, image: ImageId) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT token FROM shares WHERE image_id = $1 AND user_id = $2 AND revoked_at IS NULL ORDER BY created_at",
        )
        .bind(image.0)
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| r.try_get("token")).collect::<Result<_, _>>()?)
    }

    /// What a live link shows; `None` for an unknown or revoked token.
    pub async fn shared(&self, token: &str) -> Result<Option<SharedView>, StoreError> {
        let Some(share) = sqlx::query("SELECT image_id, thread_id FROM shares WHERE token = $1 AND revoked_at IS NULL")
            .bind(token)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let columns = "SELECT i.id, i.width, i.height, j.enhanced_prompt FROM images i JOIN jobs j ON j.id = i.job_id";
        // The images a link shows, and (for their variants, in one query) the same filter.
        let (filter, key, whole_thread) =
            match (share.try_get::<Option<i64>, _>("image_id")?, share.try_get::<Option<i64>, _>("thread_id")?) {
                (Some(image), _) => ("i.id = $1", image, false),
                (None, Some(thread)) => ("j.thread_id = $1", thread, true),
                (None, None) => return Ok(None),
            };
        let variants = sqlx::query(&format!(
            "SELECT v.image_id, v.variant FROM image_variants v JOIN images i ON i.id = v.image_id \
             JOIN jobs j ON j.id = i.job_id WHERE {filter}"
        ))
        .bind(key)
        .fetch_all(self.pool())
        .await?;
        let mut widths = super::images::widths_by_image(&variants);
        let rows = sqlx::query(&format!("{columns} WHERE {filter} ORDER BY i.id LIMIT {MAX_SHARED_IMAGES}"))
            .bind(key)
            .fetch_all(self.pool())
            .await?;
        // One image is titled by its prompt, a thread by its title.
        let title = match whole_thread {
            false => rows.first().map(|r| r.try_get::<String, _>("enhanced_prompt")).transpose()?,
            true => sqlx::query("SELECT title FROM threads WHERE id = $1")
                .bind(key)
                .fetch_optional(self.pool())
                .await?
                .map(|r| r.try_get::<String, _>("title"))
                .transpose()?,
        }
        .unwrap_or_default();
        let mut images = Vec::new();
        for row in &rows {
            let mut info = super::images::image_info(row)?;
            info.variants = widths.remove(&info.id).unwrap_or_default();
            images.push((info, row.try_get("enhanced_prompt")?));
        }
        Ok(Some(SharedView { token: token.to_string(), title, images, origin: String::new() }))
    }

    /// A variant of an image a live link shares; `None` when the link does not cover it.
    pub async fn shared_variant(
        &self,
        token: &str,
        image: ImageId,
        variant: Variant,
    ) -> Result<Option<VariantBytes>, StoreError> {
        let row = sqlx::query(
            "SELECT v.mime, v.bytes, i.sha256 FROM shares s JOIN images i ON i.user_id = s.user_id \
             JOIN image_variants v ON v.image_id = i.id \
             WHERE s.token = $1 AND s.revoked_at IS NULL AND i.id = $2 AND v.variant = $3 \
             AND (s.image_id = i.id OR s.thread_id = (SELECT j.thread_id FROM jobs j WHERE j.id = i.job_id))",
        )
        .bind(token)
        .bind(image.0)
        .bind(variant.to_string())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(super::images::variant_bytes).transpose()?)
    }
}
