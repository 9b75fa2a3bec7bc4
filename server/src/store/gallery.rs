//! The library: a user's images newest first, filtered and searched with each database's
//! own full-text index (SQLite FTS5, PostgreSQL `tsvector` + GIN, both with English stemming),
//! an image's lineage, and deleting one image (its bytes go, its cost stays in the ledger).

use app::gallery::{search_words, GalleryItem, GalleryPage, GalleryQuery, LineageNode, GALLERY_PAGE};
use app::protocol::*;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{DbKind, Store, StoreError};

/// The deepest lineage walked either way (a refinement chain is capped far below this).
const MAX_LINEAGE: usize = 200;

impl Store {
    /// One page of `user`'s images for `query`.
    pub async fn gallery(&self, user: UserId, query: &GalleryQuery) -> Result<GalleryPage, StoreError> {
        let words = search_words(&query.search);
        let mut sql = String::from(
            "SELECT i.id, i.width, i.height, i.created_at, j.id AS job_id, j.thread_id, j.enhanced_prompt, j.provider \
             FROM images i JOIN jobs j ON j.id = i.job_id WHERE i.user_id = $1 AND i.id < $2",
        );
        let mut n = 2;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let search = match (words.is_empty(), self.kind()) {
            (true, _) => None,
            // Every word, each as a prefix ("light" finds "lighthouse"); the words are letters
            // and digits only, quoted, so no query syntax gets through.
            (false, DbKind::Sqlite) => {
                sql.push_str(&format!(
                    " AND j.id IN (SELECT rowid FROM jobs_search WHERE jobs_search MATCH {})",
                    next()
                ));
                Some(words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" "))
            }
            (false, DbKind::Postgres) => {
                sql.push_str(&format!(" AND j.search @@ to_tsquery('english', {})", next()));
                Some(words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "))
            }
        };
        if query.thread.is_some() {
            sql.push_str(&format!(" AND j.thread_id = {}", next()));
        }
        if query.engine.is_some() {
            sql.push_str(&format!(" AND j.provider = {}", next()));
        }
        if query.since_day.is_some() {
            sql.push_str(&format!(" AND i.created_at >= {}", next()));
        }
        if query.until_day.is_some() {
            sql.push_str(&format!(" AND i.created_at < {}", next()));
        }
        sql.push_str(&format!(" ORDER BY i.id DESC LIMIT {}", next()));
        let mut q = sqlx::query(&sql).bind(user.0).bind(query.before.map_or(i64::MAX, |b| b.0));
        if let Some(search) = search {
            q = q.bind(search);
        }
        if let Some(thread) = query.thread {
            q = q.bind(thread.0);
        }
        if let Some(engine) = query.engine {
            q = q.bind(engine.id());
        }
        if let Some(day) = query.since_day {
            q = q.bind(day.saturating_mul(86_400_000));
        }
        if let Some(day) = query.until_day {
            q = q.bind(day.saturating_add(1).saturating_mul(86_400_000));
        }
        let rows = q.bind(GALLERY_PAGE as i64 + 1).fetch_all(self.pool()).await?;
        let mut items = rows.iter().map(gallery_item).collect::<Result<Vec<_>, _>>()?;
        // One query for the page's thumbnails: the variants of its span of image ids.
        if let (Some(first), Some(last)) = (items.first(), items.last()) {
            let variants = sqlx::query(
                "SELECT v.image_id, v.variant FROM image_variants v JOIN images i ON i.id = v.image_id \
                 WHERE i.user_id = $1 AND v.image_id BETWEEN $2 AND $3",
            )
            .bind(user.0)
            .bind(last.image.id.0)
            .bind(first.image.id.0)
            .fetch_all(self.pool())
            .await?;
            let mut widths = super::images::widths_by_image(&variants);
            for item in &mut items {
                item.image.variants = widths.remove(&item.image.id).unwrap_or_default();
            }
        }
        let next = match items.len() > GALLERY_PAGE {
            true => {
                items.truncate(GALLERY_PAGE);
                items.last().map(|i| i.image.id)
            }
            false => None,
        };
        let threads = sqlx::query(
            "SELECT DISTINCT t.id, t.title, t.updated_at FROM threads t JOIN jobs j ON j.thread_id = t.id \
             JOIN images i ON i.job_id = j.id WHERE t.user_id = $1 ORDER BY t.updated_at DESC LIMIT 200",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((ThreadId(r.try_get("id")?), r.try_get("title")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(GalleryPage { items, next, threads })
    }

    /// The jobs `job` came from (oldest first), `job` itself, and those made from it
    /// (depth-first), each with its first image; only `user`'s.
    pub async fn lineage(&self, user: UserId, job: JobId) -> Result<Vec<LineageNode>, StoreError> {
        let mut up = Vec::new();
        let mut at = Some(job);
        while let Some(id) = at.filter(|_| up.len() < MAX_LINEAGE) {
            let Some(row) = self.lineage_row(user, "j.id = $2", id).await?.into_iter().next() else { break };
            at = row.try_get::<Option<i64>, _>("refines_job_id")?.map(JobId);
            up.push(node(&row, 0)?);
        }
        up.reverse();
        let root_depth = up.len().saturating_sub(1) as u32;
        for (depth, n) in up.iter_mut().enumerate() {
            n.depth = depth as u32;
        }
        // Those made from it, depth-first: each version followed by those made from it.
        let mut stack: Vec<LineageNode> = Vec::new();
        let children = |rows: Vec<AnyRow>, depth: u32| -> Result<Vec<LineageNode>, sqlx::Error> {
            rows.iter().rev().map(|r| node(r, depth)).collect()
        };
        stack.extend(children(self.lineage_row(user, "j.refines_job_id = $2", job).await?, root_depth + 1)?);
        while let Some(next) = stack.pop() {
            if up.len() >= 2 * MAX_LINEAGE {
                break;
            }
            let below = self.lineage_row(user, "j.refines_job_id = $2", next.job).await?;
            stack.extend(children(below, next.depth + 1)?);
            up.push(next);
        }
        Ok(up)
    }

    async fn lineage_row(&self, user: UserId, filter: &str, id: JobId) -> Result<Vec<AnyRow>, StoreError> {
        let sql = format!(
            "SELECT j.id, j.enhanced_prompt, j.refines_job_id, \
             (SELECT MIN(i.id) FROM images i WHERE i.job_id = j.id) AS first_image \
             FROM jobs j WHERE j.user_id = $1 AND {filter} ORDER BY j.id"
        );
        Ok(sqlx::query(&sql).bind(user.0).bind(id.0).fetch_all(self.pool()).await?)
    }

    /// Deletes `user`'s image `id` with its bytes; the job keeps its cost and count (the
    /// ledger is history). Returns the job it belonged to, `None` when it was not theirs.
    pub async fn delete_image(&self, user: UserId, id: ImageId) -> Result<Option<Option<JobId>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("SELECT job_id FROM images WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let job = row.try_get::<Option<i64>, _>("job_id")?.map(JobId);
        sqlx::query("DELETE FROM images WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        // The job's cover image moves to the next one left, if any.
        sqlx::query(
            "UPDATE jobs SET image_id = (SELECT MIN(i.id) FROM images i WHERE i.job_id = jobs.id) \
             WHERE image_id = $1 AND user_id = $2",
        )
        .bind(id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(job))
    }
}

fn gallery_item(row: &AnyRow) -> Result<GalleryItem, sqlx::Error> {
    let provider: String = row.try_get("provider")?;
    Ok(GalleryItem {
        image: super::images::image_info(row)?,
        job: JobId(row.try_get("job_id")?),
        thread: ThreadId(row.try_get("thread_id")?),
        prompt: row.try_get("enhanced_prompt")?,
        provider: ProviderKind::parse(&provider).unwrap_or(ProviderKind::Builtin),
        created_at: row.try_get("created_at")?,
    })
}

fn node(row: &AnyRow, depth: u32) -> Result<LineageNode, sqlx::Error> {
    Ok(LineageNode {
        job: JobId(row.try_get("id")?),
        prompt: row.try_get("enhanced_prompt")?,
        image: row.try_get::<Option<i64>, _>("first_image")?.map(ImageId),
        depth,
    })
}
