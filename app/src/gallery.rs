//! The library's data: what `/gallery` lists and filters, what an image's own page shows
//! (its prompts, settings and lineage), and what a share link shows a visitor. Built by the
//! server, read by the pages; the search words are cleaned here, once, for both databases.

use serde::{Deserialize, Serialize};

use crate::protocol::{ImageId, ImageInfo, JobId, JobView, ProviderKind, ThreadId};

/// Images per gallery page.
pub const GALLERY_PAGE: usize = 40;
/// Most search words used (the rest are ignored).
pub const MAX_SEARCH_WORDS: usize = 8;

/// What the gallery is asked for: filters, and the page (images older than `before`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryQuery {
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub thread: Option<ThreadId>,
    #[serde(default)]
    pub engine: Option<ProviderKind>,
    /// Made on or after this day (Unix days), and on or before `until`.
    #[serde(default)]
    pub since_day: Option<i64>,
    #[serde(default)]
    pub until_day: Option<i64>,
    #[serde(default)]
    pub before: Option<ImageId>,
}

/// One image as the gallery lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryItem {
    pub image: ImageInfo,
    pub job: JobId,
    pub thread: ThreadId,
    /// The prompt sent (the image's `alt`).
    pub prompt: String,
    pub provider: ProviderKind,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryPage {
    pub items: Vec<GalleryItem>,
    /// The cursor of the next page, when there is one.
    pub next: Option<ImageId>,
    /// The user's threads that have images, for the thread filter: id and title.
    pub threads: Vec<(ThreadId, String)>,
}

/// A job in an image's lineage: what it made from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    pub job: JobId,
    pub prompt: String,
    /// Its first image, to link to (none when deleted or not made).
    pub image: Option<ImageId>,
    /// Steps from the root of the tree (0 for the first image).
    pub depth: u32,
}

/// An image's own page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetail {
    pub image: ImageInfo,
    pub job: JobView,
    pub thread: ThreadId,
    pub thread_title: String,
    /// The versions it came from (oldest first), this one, and those made from it, depth-first.
    pub lineage: Vec<LineageNode>,
    /// Live share links to this image (tokens).
    pub shares: Vec<String>,
    /// Where the page was asked for (`https://host`), for whole links to copy.
    #[serde(default)]
    pub origin: String,
}

/// What a share link shows a visitor: the images and their prompts, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedView {
    pub token: String,
    /// "a lighthouse at dusk", or the thread's title.
    pub title: String,
    pub images: Vec<(ImageInfo, String)>,
    /// Where the page was asked for, for the absolute links OpenGraph needs.
    #[serde(default)]
    pub origin: String,
}

impl SharedView {
    pub fn image_url(&self, image: &ImageInfo, variant: crate::protocol::Variant) -> String {
        format!("/s/{}/images/{}/{variant}", self.token, image.id)
    }
}

/// The words of a search, lower-cased, letters and digits only (so no query syntax of either
/// database can be injected), at most [`MAX_SEARCH_WORDS`].
pub fn search_words(search: &str) -> Vec<String> {
    search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(40).collect::<String>().to_lowercase())
        .take(MAX_SEARCH_WORDS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_carry_no_query_syntax() {
        assert_eq!(search_words("Red  fox"), vec!["red", "fox"]);
        assert_eq!(search_words("\"fox\" OR NEAR(a b) * -x ^y:z"), vec!["fox", "or", "near", "a", "b", "x", "y", "z"]);
        assert_eq!(search_words("café au lait"), vec!["café", "au", "lait"]);
        assert!(search_words("!!! ***").is_empty());
        assert_eq!(search_words(&"w ".repeat(50)).len(), MAX_SEARCH_WORDS);
    }
}
