//! Attaching a picture to the next message: the "Attach image" button (a file picker, which
//! on a phone offers the camera), dropping a file on the composer, or pasting one. The file
//! goes to `/uploads` as it is; the server checks and stores it and the row names it, so the
//! message that follows is an edit of it. Browser only: before hydration there is no button.

use leptos::prelude::*;

use super::image_row::Row;
#[cfg(feature = "hydrate")]
use crate::protocol::ImageInfo;

/// What an upload sends.
#[cfg(feature = "hydrate")]
pub enum Body {
    File(web_sys::File),
    Bytes(Vec<u8>),
}

/// The bytes of a `data:…;base64,` URL (a canvas's PNG).
#[cfg(feature = "hydrate")]
pub fn data_url_bytes(url: &str) -> Vec<u8> {
    let b64 = url.split_once(',').map_or("", |(_, b)| b);
    let Some(window) = web_sys::window() else { return Vec::new() };
    let Ok(binary) = window.atob(b64) else { return Vec::new() };
    binary.chars().map(|c| c as u32 as u8).collect()
}

/// Posts `body` to `path`; the stored image, or the server's sentence.
#[cfg(feature = "hydrate")]
pub async fn upload(path: &str, body: Body) -> Result<ImageInfo, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        image: Option<ImageInfo>,
        error: Option<String>,
    }
    let request = gloo_net::http::Request::post(path);
    let request = match body {
        Body::File(file) => request.body(file),
        Body::Bytes(bytes) => {
            let array = js_sys::Uint8Array::from(bytes.as_slice());
            request.header("content-type", "image/png").body(array)
        }
    };
    let sent = match request {
        Ok(request) => request.send().await,
        Err(e) => return Err(format!("The picture could not be sent: {e}")),
    };
    let response =
        sent.map_err(|_| "The picture could not be sent; check the connection and try again.".to_string())?;
    let answer: Answer = response.json().await.map_err(|_| "The server's answer could not be read.".to_string())?;
    match (answer.image, answer.error) {
        (Some(image), _) => Ok(image),
        (None, Some(error)) => Err(error),
        (None, None) => Err("The picture was not stored.".into()),
    }
}

/// Uploads `files` in order: the first is the picture to change, the others go with it.
#[cfg(feature = "hydrate")]
pub fn attach_files(row: Row, files: Vec<web_sys::File>) {
    let Some(name) = files.first().map(|f| f.name()) else { return };
    row.problem.set(Some(format!("Sending {name}…")));
    leptos::task::spawn_local(async move {
        for (i, file) in files.into_iter().enumerate() {
            match upload("/uploads", Body::File(file)).await {
                Ok(image) if i == 0 => row.refine(image, format!("Attached: {name}")),
                Ok(image) => row.add_reference(image.id),
                Err(problem) => {
                    row.problem.set(Some(problem));
                    return;
                }
            }
        }
        row.problem.set(None);
        super::job_card::focus_composer();
    });
}

/// The pictures among `files`: one to change and up to `MAX_REFERENCES` more.
#[cfg(feature = "hydrate")]
pub fn picture_files(files: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(files) = files else { return Vec::new() };
    (0..files.length())
        .filter_map(|i| files.get(i))
        .filter(|f| f.type_().starts_with("image/"))
        .take(1 + crate::protocol::MAX_REFERENCES)
        .collect()
}

/// The "Attach image" button and its hidden file input.
#[component]
pub fn AttachButton(row: Row) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let open = move |_| {
        if let Some(el) = input.get_untracked() {
            el.click();
        }
    };
    let chosen = move |_ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = input.get_untracked() {
            attach_files(row, picture_files(el.files()));
            el.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = row;
    };
    view! {
        <button type="button" class="secondary attach" on:click=open>"Attach image"</button>
        <input
            type="file"
            class="visually-hidden"
            accept="image/png,image/jpeg,image/webp"
            multiple=true
            aria-label="Picture to attach"
            tabindex="-1"
            node_ref=input
            on:change=chosen
        />
    }
}
