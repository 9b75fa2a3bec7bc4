//! The API-format workflow: checking it against the node map, inferring a map for a simple
//! graph, patching a copy per request, and finding the saved image in a history entry.
//!
//! An API-format workflow is `{"<node id>": {"class_type": …, "inputs": {…}}}`; an input is a
//! literal or a link `["<node id>", <output index>]`. Only literals can be patched, so a mapped
//! input that is a link is refused at start-up with the node to map instead.

use serde_json::{Map, Value};

use super::frames::ImageRef;
use super::settings::{InputRef, NodeMap};

/// What one request changes in the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch<'a> {
    pub prompt: &'a str,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub steps: Option<u32>,
    /// The uploaded picture's name as `LoadImage` reads it (`easel/….png`), for an edit.
    pub image: Option<&'a str>,
    /// The uploaded mask's name, for a graph with a `LoadImageMask`.
    pub mask: Option<&'a str>,
}

fn nodes(workflow: &Value) -> Option<&Map<String, Value>> {
    workflow.as_object()
}

fn class_type(node: &Value) -> &str {
    node.get("class_type").and_then(Value::as_str).unwrap_or("?")
}

/// The class of node `id`, if it exists.
pub fn class_of<'a>(workflow: &'a Value, id: &str) -> Option<&'a str> {
    workflow.get(id).map(class_type)
}

/// Whether any node takes output `index` of node `id` as an input (a `LoadImage`'s mask is
/// output 1: unused, the picture's alpha means nothing to the graph).
pub fn output_used(workflow: &Value, id: &str, index: u64) -> bool {
    nodes(workflow)
        .into_iter()
        .flatten()
        .filter_map(|(_, n)| n.get("inputs")?.as_object())
        .any(|inputs| inputs.values().any(|v| is_link(v) && v[0].as_str() == Some(id) && v[1].as_u64() == Some(index)))
}

/// The `image` input of the only node of `class`, if there is exactly one.
fn single_image_input(workflow: &Value, class: &str) -> Option<InputRef> {
    let mut found = nodes(workflow)?.iter().filter(|(_, n)| class_type(n) == class);
    let (id, _) = found.next()?;
    found.next().is_none().then(|| InputRef { node: id.clone(), input: "image".into() })
}

/// The steps the graph itself asks for at the mapped place.
pub fn steps_in(workflow: &Value, map: &NodeMap) -> Option<u32> {
    input(workflow, map.steps.as_ref()?)?.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// The value at `at`, if the node and input exist.
pub fn input<'a>(workflow: &'a Value, at: &InputRef) -> Option<&'a Value> {
    workflow.get(&at.node)?.get("inputs")?.get(&at.input)
}

/// Writes `value` at `at` (checked to exist at start-up; a missing place is left alone).
pub fn set_input(workflow: &mut Value, at: &InputRef, value: Value) {
    if let Some(slot) = workflow.get_mut(&at.node).and_then(|n| n.get_mut("inputs")).and_then(|i| i.get_mut(&at.input))
    {
        *slot = value;
    }
}

/// Whether an input is a link to another node's output.
fn is_link(value: &Value) -> bool {
    value.as_array().is_some_and(|a| a.len() == 2 && a[0].is_string() && a[1].is_u64())
}

fn linked_node(value: Option<&Value>) -> Option<&str> {
    value.filter(|v| is_link(v)).and_then(|v| v[0].as_str())
}

/// The workflow file at `path` (named by `var`) and its node map: `map` (the value of
/// `map_var`) when given, else inferred; a graph it cannot be inferred from names `example`.
pub fn load(
    var: &str,
    path: &str,
    map_var: &str,
    map: Option<&str>,
    example: &str,
) -> Result<(Value, NodeMap), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{var}: cannot read {path}: {e}"))?;
    let workflow: Value = serde_json::from_str(&text).map_err(|e| format!("{var}: {path} is not JSON: {e}"))?;
    let nodes = match map {
        Some(map) => NodeMap::parse(map_var, map)?,
        None => {
            infer_nodes(&workflow).map_err(|why| format!("{map_var} is needed for {path} ({why}), e.g. {example}"))?
        }
    };
    Ok((workflow, nodes))
}

/// Checks that `workflow` is in API format and holds every place `map` (the variable `var`)
/// names as a literal.
pub fn check(var: &str, workflow: &Value, map: &NodeMap) -> Result<(), String> {
    let Some(all) = nodes(workflow) else { return Err("the ComfyUI workflow is not a JSON object".into()) };
    if all.contains_key("nodes") && all.contains_key("links") {
        return Err("the ComfyUI workflow is in UI format: export it with \"Export (API)\"".into());
    }
    if all.is_empty() {
        return Err("the ComfyUI workflow has no nodes".into());
    }
    for (id, node) in all {
        if node.get("class_type").and_then(Value::as_str).is_none() || !node.get("inputs").is_some_and(Value::is_object)
        {
            return Err(format!("the ComfyUI workflow's node {id} has no class_type or inputs: is it in API format?"));
        }
    }
    for (name, at) in map.places() {
        let Some(node) = all.get(&at.node) else {
            return Err(format!("{var}: {name}={at}: the workflow has no node {:?}", at.node));
        };
        let inputs = node.get("inputs").and_then(Value::as_object);
        let Some(value) = inputs.and_then(|i| i.get(&at.input)) else {
            let has: Vec<&str> = inputs.map(|i| i.keys().map(String::as_str).collect()).unwrap_or_default();
            return Err(format!(
                "{var}: {name}={at}: node {} ({}) has no input {:?} (it has {})",
                at.node,
                class_type(node),
                at.input,
                has.join(", ")
            ));
        };
        if let Some(from) = linked_node(Some(value)) {
            return Err(format!("{var}: {name}={at} is linked from node {from}: map that node's input instead"));
        }
    }
    Ok(())
}

/// The only `CheckpointLoaderSimple`'s model input, if there is exactly one.
pub fn checkpoint_loader(workflow: &Value) -> Option<InputRef> {
    let mut loaders = nodes(workflow)?.iter().filter(|(_, n)| class_type(n) == "CheckpointLoaderSimple");
    let (id, _) = loaders.next()?;
    loaders.next().is_none().then(|| InputRef { node: id.clone(), input: "ckpt_name".into() })
}

/// A map for a graph with one `KSampler` (or `KSamplerAdvanced`): its seed and steps, the
/// text of the nodes its positive and negative inputs come from, the size of its latent, and
/// the only `LoadImage` and `LoadImageMask` (an edit's picture and mask).
pub fn infer_nodes(workflow: &Value) -> Result<NodeMap, String> {
    let all = nodes(workflow).ok_or("not a JSON object")?;
    let samplers: Vec<(&String, &Value)> =
        all.iter().filter(|(_, n)| matches!(class_type(n), "KSampler" | "KSamplerAdvanced")).collect();
    let [(sampler_id, sampler)] = samplers.as_slice() else {
        return Err(format!("it has {} samplers, not one", samplers.len()));
    };
    let inputs = &sampler["inputs"];
    let at = |node: &str, input: &str| InputRef { node: node.to_string(), input: input.to_string() };
    // A place only counts when the node holds that input as a literal.
    let literal = |node: &str, input: &str| {
        all.get(node).and_then(|n| n["inputs"].get(input)).filter(|v| !is_link(v)).map(|_| at(node, input))
    };
    let text_of = |link: &str| linked_node(inputs.get(link)).and_then(|id| literal(id, "text"));
    let prompt = text_of("positive").ok_or("its sampler's positive input is not a text encoder with a text input")?;
    let latent = linked_node(inputs.get("latent_image"));
    let seed_input = if class_type(sampler) == "KSampler" { "seed" } else { "noise_seed" };
    Ok(NodeMap {
        prompt,
        negative: text_of("negative"),
        seed: literal(sampler_id, seed_input),
        steps: literal(sampler_id, "steps"),
        width: latent.and_then(|id| literal(id, "width")),
        height: latent.and_then(|id| literal(id, "height")),
        checkpoint: checkpoint_loader(workflow).filter(|c| literal(&c.node, &c.input).is_some()),
        image: single_image_input(workflow, "LoadImage").filter(|i| literal(&i.node, &i.input).is_some()),
        mask: single_image_input(workflow, "LoadImageMask").filter(|i| literal(&i.node, &i.input).is_some()),
    })
}

/// Engines work in multiples of 8 pixels (the latent is an eighth of the image).
pub fn round_to_8(side: u32) -> u32 {
    (side.saturating_add(4) / 8 * 8).clamp(64, 8192)
}

/// A copy of `workflow` with this request's values at the mapped places.
pub fn patch(workflow: &Value, map: &NodeMap, p: &Patch<'_>) -> Value {
    let mut graph = workflow.clone();
    set_input(&mut graph, &map.prompt, Value::from(p.prompt));
    let numbers = [
        (&map.seed, Some(p.seed)),
        (&map.width, Some(u64::from(round_to_8(p.width)))),
        (&map.height, Some(u64::from(round_to_8(p.height)))),
        (&map.steps, p.steps.map(u64::from)),
    ];
    for (at, value) in numbers {
        if let (Some(at), Some(value)) = (at, value) {
            set_input(&mut graph, at, Value::from(value));
        }
    }
    for (at, name) in [(&map.image, p.image), (&map.mask, p.mask)] {
        if let (Some(at), Some(name)) = (at, name) {
            set_input(&mut graph, at, Value::from(name));
        }
    }
    graph
}

/// The image to show from a finished prompt's `outputs`: a saved one (`output`) before a
/// preview (`temp`), in node order.
pub fn pick_image(outputs: &Value) -> Option<ImageRef> {
    let images: Vec<ImageRef> = outputs
        .as_object()?
        .values()
        .filter_map(|o| o.get("images"))
        .filter_map(|i| serde_json::from_value::<Vec<ImageRef>>(i.clone()).ok())
        .flatten()
        .collect();
    pick(images)
}

/// A saved image before a preview, else the first.
pub fn pick(images: Vec<ImageRef>) -> Option<ImageRef> {
    let saved = images.iter().position(|i| i.kind == "output").unwrap_or(0);
    images.into_iter().nth(saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::comfyui::ComfyUiSettings;
    use serde_json::json;

    fn default() -> ComfyUiSettings {
        ComfyUiSettings::new("http://127.0.0.1:8188")
    }

    #[test]
    fn patching_writes_the_mapped_places_and_leaves_the_original() {
        let s = default();
        let patch = Patch {
            prompt: "a lighthouse",
            seed: 42,
            width: 1000,
            height: 771,
            steps: Some(12),
            image: None,
            mask: None,
        };
        let graph = patch_(&s, &patch);
        assert_eq!(graph["6"]["inputs"]["text"], "a lighthouse");
        assert_eq!(graph["3"]["inputs"]["seed"], 42);
        assert_eq!(graph["3"]["inputs"]["steps"], 12);
        assert_eq!(
            (graph["5"]["inputs"]["width"].as_u64(), graph["5"]["inputs"]["height"].as_u64()),
            (Some(1000), Some(768))
        );
        assert_eq!(
            graph["7"]["inputs"]["text"], s.workflow["7"]["inputs"]["text"],
            "the negative stays the workflow's"
        );
        assert_eq!(s.workflow["6"]["inputs"]["text"], "");
        let no_steps = patch_(&s, &Patch { steps: None, ..patch });
        assert_eq!(no_steps["3"]["inputs"]["steps"], 20, "the workflow's steps without COMFYUI_STEPS");
    }

    fn patch_(s: &ComfyUiSettings, p: &Patch<'_>) -> Value {
        patch(&s.workflow, &s.nodes, p)
    }

    #[test]
    fn sizes_round_to_multiples_of_eight() {
        assert_eq!(
            [round_to_8(1024), round_to_8(1021), round_to_8(1020), round_to_8(3), round_to_8(u32::MAX)],
            [1024, 1024, 1024, 64, 8192]
        );
    }

    #[test]
    fn a_simple_graph_gets_its_map_inferred() {
        let s = default();
        let mut inferred = infer_nodes(&s.workflow).expect("one sampler");
        assert_eq!(inferred, *s.nodes);
        let mut two = s.workflow.clone();
        two["10"] = two["3"].clone();
        assert!(infer_nodes(&two).expect_err("two samplers").contains("2 samplers"));
        inferred.prompt.node = "99".into();
        assert!(check("COMFYUI_NODES", &s.workflow, &inferred).expect_err("no node 99").contains("99"));
    }

    #[test]
    fn linked_inputs_and_ui_exports_are_refused() {
        let s = default();
        let mut linked = s.workflow.clone();
        linked["3"]["inputs"]["seed"] = json!(["11", 0]);
        assert!(check("COMFYUI_NODES", &linked, &s.nodes).expect_err("linked").contains("linked from node 11"));
        let ui = json!({"nodes": [], "links": [], "version": 0.4});
        assert!(check("COMFYUI_NODES", &ui, &s.nodes).expect_err("ui format").contains("API"));
    }

    #[test]
    fn saved_images_are_picked_before_previews() {
        let outputs = json!({
            "12": {"images": [{"filename": "preview.png", "subfolder": "", "type": "temp"}]},
            "9": {"images": [{"filename": "easel_00001_.png", "subfolder": "x", "type": "output"}]}
        });
        let picked = pick_image(&outputs).expect("an image");
        assert_eq!((picked.filename.as_str(), picked.subfolder.as_str()), ("easel_00001_.png", "x"));
        assert_eq!(pick_image(&json!({"9": {"text": ["hi"]}})), None);
    }
}
