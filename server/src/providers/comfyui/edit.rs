//! Edits on ComfyUI: a second workflow that starts from a picture (`COMFYUI_EDIT_WORKFLOW`,
//! else a built-in img2img/inpaint graph on the main workflow's checkpoint).
//!
//! A workflow cannot take a picture inline: it goes to the engine's input folder first
//! (`POST /upload/image`) and the graph's `LoadImage` names the file. The painted area travels
//! the way the graph reads it: as the picture's alpha, which `LoadImage` turns into its mask
//! output (what ComfyUI's own mask editor saves), or as a file of its own for a
//! `LoadImageMask`, in the channel that node reads. Nothing painted means "change it all"
//! (a fully transparent alpha), so one graph serves img2img and inpainting alike.

use app::protocol::AspectRatio;
use image::{imageops::FilterType, DynamicImage, GrayImage, RgbaImage};
use serde_json::Value;

use super::settings::{InputRef, NodeMap};
use super::workflow;
use crate::providers::ProviderError;

const DEFAULT_EDIT_WORKFLOW: &str = include_str!("default_edit_workflow.json");
/// Where the built-in edit workflow takes each value.
const DEFAULT_EDIT_NODES: &str =
    "prompt=6.text,negative=7.text,seed=3.seed,steps=3.steps,checkpoint=4.ckpt_name,image=10.image";
/// The subfolder of the engine's input folder our uploads go to.
pub const UPLOAD_FOLDER: &str = "easel";

/// The workflow an edit runs, and where its values go.
#[derive(Clone, Debug)]
pub struct EditGraph {
    pub workflow: Value,
    pub nodes: Box<NodeMap>,
}

/// How the graph reads the painted area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskForm {
    /// In the picture's alpha: its `LoadImage`'s mask output feeds the graph.
    PictureAlpha,
    /// A file of its own, read from its alpha (`LoadImageMask` with `channel: alpha`, which
    /// inverts it: transparent is the area to change).
    FileAlpha,
    /// A file of its own, read from a colour channel: white is the area to change.
    FileGrey,
    /// The graph has no use for one.
    Ignored,
}

/// The files an edit uploads.
#[derive(Debug)]
pub struct Upload {
    pub picture: Vec<u8>,
    /// For a graph with a `LoadImageMask`.
    pub mask: Option<Vec<u8>>,
}

impl EditGraph {
    /// The built-in graph loading `checkpoint`.
    pub fn builtin(checkpoint: &str) -> Result<Self, String> {
        let mut workflow: Value =
            serde_json::from_str(DEFAULT_EDIT_WORKFLOW).map_err(|e| format!("the built-in edit workflow: {e}"))?;
        let nodes = Box::new(NodeMap::parse("COMFYUI_EDIT_NODES", DEFAULT_EDIT_NODES)?);
        if let Some(at) = &nodes.checkpoint {
            workflow::set_input(&mut workflow, at, Value::from(checkpoint));
        }
        Ok(Self { workflow, nodes })
    }

    /// `COMFYUI_EDIT_WORKFLOW` (a file, or `off`) and `COMFYUI_EDIT_NODES`; unset, the
    /// built-in graph on `checkpoint` (the main workflow's), or no edits when it names none.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>, checkpoint: Option<&str>) -> Result<Option<Self>, String> {
        let graph = match get("COMFYUI_EDIT_WORKFLOW") {
            Some(off) if matches!(off.to_ascii_lowercase().as_str(), "off" | "none" | "false") => return Ok(None),
            Some(path) => {
                let map = get("COMFYUI_EDIT_NODES");
                let example = "prompt=6.text,seed=3.seed,image=10.image";
                let (workflow, nodes) =
                    workflow::load("COMFYUI_EDIT_WORKFLOW", &path, "COMFYUI_EDIT_NODES", map.as_deref(), example)?;
                let mut graph = Self { workflow, nodes: Box::new(nodes) };
                if let (Some(name), Some(at)) = (checkpoint, graph.nodes.checkpoint.clone()) {
                    workflow::set_input(&mut graph.workflow, &at, Value::from(name));
                }
                graph
            }
            None => match checkpoint {
                Some(name) => Self::builtin(name)?,
                None => return Ok(None),
            },
        };
        graph.check()?;
        Ok(Some(graph))
    }

    /// Every mapped place exists, and the picture has one.
    pub fn check(&self) -> Result<(), String> {
        let Some(image) = &self.nodes.image else {
            return Err("COMFYUI_EDIT_NODES must say where the picture goes (image=<LoadImage node>.image)".into());
        };
        workflow::check("COMFYUI_EDIT_NODES", &self.workflow, &self.nodes)?;
        if let Some(mask) = &self.nodes.mask {
            if mask.node == image.node {
                return Err(format!("COMFYUI_EDIT_NODES: image and mask are both node {}: map a LoadImageMask for the mask, or leave it out (the picture's alpha carries it)", image.node));
            }
        }
        Ok(())
    }

    /// How this graph reads the painted area.
    pub fn mask_form(&self) -> MaskForm {
        if let Some(mask) = &self.nodes.mask {
            let channel = self.workflow.get(&mask.node).and_then(|n| n["inputs"]["channel"].as_str());
            return if channel == Some("alpha") { MaskForm::FileAlpha } else { MaskForm::FileGrey };
        }
        match &self.nodes.image {
            Some(InputRef { node, .. })
                if workflow::class_of(&self.workflow, node) == Some("LoadImage")
                    && workflow::output_used(&self.workflow, node, 1) =>
            {
                MaskForm::PictureAlpha
            }
            _ => MaskForm::Ignored,
        }
    }

    /// Whether a painted area reaches the sampler.
    pub fn takes_mask(&self) -> bool {
        self.mask_form() != MaskForm::Ignored
    }
}

/// The size an edit of a `picture`-sized picture is made at, for `asked` (a shape's size):
/// the picture's own proportions at the area asked, unless the shape asked is another one
/// ("make it wide"), in whole latent cells.
fn edit_size(picture: (u32, u32), asked: (u32, u32)) -> (u32, u32) {
    let (w, h) = if AspectRatio::nearest(picture.0, picture.1) == AspectRatio::nearest(asked.0, asked.1) {
        let area = f64::from(asked.0) * f64::from(asked.1);
        let ratio = f64::from(picture.0.max(1)) / f64::from(picture.1.max(1));
        ((area * ratio).sqrt() as u32, (area / ratio).sqrt() as u32)
    } else {
        asked
    };
    (workflow::round_to_8(w), workflow::round_to_8(h))
}

/// The files to upload for an edit: `source` at its [`edit_size`], with the painted area of `mask` (our grey form, white where painted;
/// nothing painted: all of it) in the form the graph reads.
pub fn prepare(
    source: &[u8],
    mask: Option<&[u8]>,
    width: u32,
    height: u32,
    form: MaskForm,
) -> Result<Upload, ProviderError> {
    let bad = |what: &str, e: image::ImageError| ProviderError::BadResponse(format!("{what}: {e}"));
    let picture = crate::jobs::variants::decode(source).map_err(|e| bad("the picture", e))?;
    let (w, h) = edit_size((picture.width(), picture.height()), (width, height));
    let picture = picture.resize_exact(w, h, FilterType::Lanczos3).to_rgb8();
    let painted: GrayImage = match mask {
        Some(png) => {
            let grey = crate::jobs::variants::decode(png).map_err(|e| bad("the mask", e))?.to_luma8();
            let grey = image::imageops::resize(&grey, w, h, FilterType::Triangle);
            GrayImage::from_fn(w, h, |x, y| image::Luma([if grey.get_pixel(x, y).0[0] >= 128 { 255 } else { 0 }]))
        }
        None => GrayImage::from_pixel(w, h, image::Luma([255])),
    };
    let png = |img: DynamicImage| crate::jobs::variants::encode_png(&img).map_err(|e| bad("an upload", e));
    // Alpha 0 where painted: `LoadImage` and an alpha-reading `LoadImageMask` both invert it.
    let clear_where_painted =
        |[r, g, b]: [u8; 3], x: u32, y: u32| image::Rgba([r, g, b, 255 - painted.get_pixel(x, y).0[0]]);
    Ok(match form {
        MaskForm::PictureAlpha => Upload {
            picture: png(DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
                clear_where_painted(picture.get_pixel(x, y).0, x, y)
            })))?,
            mask: None,
        },
        MaskForm::FileAlpha => Upload {
            picture: png(DynamicImage::ImageRgb8(picture))?,
            mask: Some(png(DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
                clear_where_painted([0, 0, 0], x, y)
            })))?),
        },
        MaskForm::FileGrey => Upload {
            picture: png(DynamicImage::ImageRgb8(picture))?,
            mask: Some(png(DynamicImage::ImageLuma8(painted))?),
        },
        MaskForm::Ignored => Upload { picture: png(DynamicImage::ImageRgb8(picture))?, mask: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn png(img: DynamicImage) -> Vec<u8> {
        crate::jobs::variants::encode_png(&img).expect("png")
    }

    /// A 40×20 picture, and a mask of it painted on the left half.
    fn picture_and_mask() -> (Vec<u8>, Vec<u8>) {
        let picture = png(DynamicImage::ImageRgb8(image::RgbImage::from_pixel(40, 20, image::Rgb([200, 30, 10]))));
        let mask = png(DynamicImage::ImageLuma8(GrayImage::from_fn(40, 20, |x, _| {
            image::Luma([if x < 20 { 255 } else { 0 }])
        })));
        (picture, mask)
    }

    fn decoded(bytes: &[u8]) -> RgbaImage {
        crate::jobs::variants::decode(bytes).expect("decodes").to_rgba8()
    }

    #[test]
    fn the_built_in_graph_reads_the_area_from_the_pictures_alpha() {
        let graph = EditGraph::builtin("dreamshaper_8.safetensors").expect("valid");
        graph.check().expect("checks");
        assert_eq!(graph.workflow["4"]["inputs"]["ckpt_name"], "dreamshaper_8.safetensors");
        assert_eq!(graph.mask_form(), MaskForm::PictureAlpha);
        let mut no_mask_use = graph.clone();
        no_mask_use.workflow["3"]["inputs"]["latent_image"] = json!(["11", 0]);
        no_mask_use.workflow.as_object_mut().expect("graph").remove("12");
        assert_eq!(no_mask_use.mask_form(), MaskForm::Ignored, "plain img2img: the alpha means nothing");
    }

    #[test]
    fn a_painted_area_is_clear_in_the_pictures_alpha_and_nothing_painted_is_all_clear() {
        let (picture, mask) = picture_and_mask();
        let up = prepare(&picture, Some(&mask), 160, 80, MaskForm::PictureAlpha).expect("prepared");
        let img = decoded(&up.picture);
        assert_eq!((img.width(), img.height()), (160, 80), "fitted to the size asked");
        assert_eq!(img.get_pixel(5, 5).0, [200, 30, 10, 0], "painted: clear, colour kept");
        assert_eq!(img.get_pixel(155, 75).0[3], 255, "unpainted: opaque");
        assert!(up.mask.is_none());
        let all = decoded(&prepare(&picture, None, 40, 20, MaskForm::PictureAlpha).expect("prepared").picture);
        assert!(all.pixels().all(|p| p.0[3] == 0), "nothing painted: change it all");
    }

    #[test]
    fn an_edit_keeps_the_pictures_proportions_unless_another_shape_is_asked() {
        assert_eq!(edit_size((640, 480), (1536, 1024)), (1448, 1088), "4:3 stays 4:3 at the area asked");
        assert_eq!(edit_size((1024, 1024), (1024, 1024)), (1024, 1024));
        assert_eq!(edit_size((640, 480), (1792, 1008)), (1792, 1008), "asked wide: made wide");
    }

    #[test]
    fn a_mask_node_gets_a_file_in_the_channel_it_reads() {
        let (picture, mask) = picture_and_mask();
        let alpha = prepare(&picture, Some(&mask), 40, 20, MaskForm::FileAlpha).expect("prepared");
        assert_eq!(decoded(&alpha.picture).get_pixel(5, 5).0[3], 255, "the picture stays opaque");
        let file = decoded(&alpha.mask.expect("a mask file"));
        assert_eq!((file.get_pixel(5, 5).0[3], file.get_pixel(35, 5).0[3]), (0, 255));
        let grey = prepare(&picture, Some(&mask), 40, 20, MaskForm::FileGrey).expect("prepared");
        let file = decoded(&grey.mask.expect("a mask file"));
        assert_eq!((file.get_pixel(5, 5).0[0], file.get_pixel(35, 5).0[0]), (255, 0));
    }

    #[test]
    fn an_edit_workflow_is_read_inferred_or_turned_off() {
        let dir = std::env::temp_dir().join(format!("easel-edit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut graph = EditGraph::builtin("x").expect("valid").workflow;
        graph["13"] = json!({"class_type": "LoadImageMask", "inputs": {"image": "m.png", "channel": "red"}});
        graph["12"]["inputs"]["mask"] = json!(["13", 0]);
        let path = dir.join("inpaint.json");
        std::fs::write(&path, graph.to_string()).expect("write");
        let path = path.to_string_lossy().into_owned();
        let env = |pairs: Vec<(&'static str, String)>| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };

        let read = EditGraph::from_env(&env(vec![("COMFYUI_EDIT_WORKFLOW", path.clone())]), Some("sd15.safetensors"))
            .expect("valid")
            .expect("edits");
        assert_eq!(read.nodes.image, Some(InputRef { node: "10".into(), input: "image".into() }), "inferred");
        assert_eq!(read.nodes.mask, Some(InputRef { node: "13".into(), input: "image".into() }));
        assert_eq!(read.mask_form(), MaskForm::FileGrey);
        assert_eq!(read.workflow["4"]["inputs"]["ckpt_name"], "sd15.safetensors");

        let off = env(vec![("COMFYUI_EDIT_WORKFLOW", "off".into())]);
        assert!(EditGraph::from_env(&off, Some("x")).expect("valid").is_none());
        assert!(EditGraph::from_env(&env(vec![]), None).expect("valid").is_none(), "no checkpoint: no built-in edits");
        let bad = env(vec![("COMFYUI_EDIT_WORKFLOW", path), ("COMFYUI_EDIT_NODES", "prompt=6.text".into())]);
        let e = EditGraph::from_env(&bad, None).expect_err("no picture");
        assert!(e.contains("COMFYUI_EDIT_NODES") && e.contains("image="), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
