//! How Easel talks to one ComfyUI server: its address, the workflow it runs, and the node
//! map that says where in that workflow the prompt, seed, size and steps go.
//!
//! Node ids differ per workflow, so the map is explicit (`COMFYUI_NODES`), or inferred from a
//! workflow with one `KSampler`, or the built-in workflow's own. Everything the map names is
//! checked against the workflow at start-up, so a typo fails the start with a sentence
//! rather than every job with an engine error.

use std::time::Duration;

use serde_json::Value;

use super::edit::EditGraph;
use super::workflow;

/// The plain txt2img graph used without `COMFYUI_WORKFLOW`.
const DEFAULT_WORKFLOW: &str = include_str!("default_workflow.json");
/// Where the built-in workflow takes each value.
const DEFAULT_NODES: &str =
    "prompt=6.text,negative=7.text,seed=3.seed,steps=3.steps,width=5.width,height=5.height,checkpoint=4.ckpt_name";
pub const DEFAULT_CHECKPOINT: &str = "sd_xl_base_1.0.safetensors";
/// `extra_data.preview_method` values the server accepts.
const PREVIEW_METHODS: [&str; 5] = ["auto", "latent2rgb", "taesd", "none", "default"];

/// One input of one node: `6.text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub node: String,
    pub input: String,
}

impl std::fmt::Display for InputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.node, self.input)
    }
}

/// Where each value goes in the workflow; only the prompt is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMap {
    pub prompt: InputRef,
    pub negative: Option<InputRef>,
    pub seed: Option<InputRef>,
    pub steps: Option<InputRef>,
    pub width: Option<InputRef>,
    pub height: Option<InputRef>,
    /// The checkpoint loader's model name (`COMFYUI_CHECKPOINT` is written there).
    pub checkpoint: Option<InputRef>,
    /// An edit's picture: a `LoadImage`'s `image` (the uploaded file's name goes there).
    pub image: Option<InputRef>,
    /// An edit's painted area as a separate file: a `LoadImageMask`'s `image`.
    pub mask: Option<InputRef>,
}

impl NodeMap {
    /// Parses `prompt=6.text,seed=3.seed,…`, the value of the variable `var` (named in errors).
    pub fn parse(var: &str, text: &str) -> Result<Self, String> {
        let (mut prompt, mut map) = (None, NodeMap::empty());
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, place)) = part.split_once('=') else {
                return Err(format!("{var}: {part:?} is not name=node.input"));
            };
            // Node ids may hold dots or colons (subgraphs); input names do not.
            let Some((node, input)) = place.trim().rsplit_once('.').filter(|(n, i)| !n.is_empty() && !i.is_empty())
            else {
                return Err(format!("{var}: {place:?} is not node.input (e.g. 6.text)"));
            };
            let at = Some(InputRef { node: node.to_string(), input: input.to_string() });
            match name.trim() {
                "prompt" => prompt = at,
                "negative" => map.negative = at,
                "seed" => map.seed = at,
                "steps" => map.steps = at,
                "width" => map.width = at,
                "height" => map.height = at,
                "checkpoint" | "model" => map.checkpoint = at,
                "image" => map.image = at,
                "mask" => map.mask = at,
                other => {
                    return Err(format!(
                    "{var}: unknown name {other:?} (prompt, negative, seed, steps, width, height, checkpoint, image, mask)"
                ))
                }
            }
        }
        let prompt = prompt.ok_or(format!("{var} must say where the prompt goes (prompt=<node>.<input>)"))?;
        Ok(NodeMap { prompt, ..map })
    }

    fn empty() -> Self {
        let none = InputRef { node: String::new(), input: String::new() };
        NodeMap {
            prompt: none,
            negative: None,
            seed: None,
            steps: None,
            width: None,
            height: None,
            checkpoint: None,
            image: None,
            mask: None,
        }
    }

    /// Every mapped place with its name.
    pub fn places(&self) -> impl Iterator<Item = (&'static str, &InputRef)> {
        [
            ("prompt", Some(&self.prompt)),
            ("negative", self.negative.as_ref()),
            ("seed", self.seed.as_ref()),
            ("steps", self.steps.as_ref()),
            ("width", self.width.as_ref()),
            ("height", self.height.as_ref()),
            ("checkpoint", self.checkpoint.as_ref()),
            ("image", self.image.as_ref()),
            ("mask", self.mask.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, at)| at.map(|at| (name, at)))
    }
}

#[derive(Clone)]
pub struct ComfyUiSettings {
    /// `COMFYUI_URL`, e.g. `http://127.0.0.1:8188` (no trailing slash).
    pub base_url: String,
    /// The API-format workflow (`COMFYUI_WORKFLOW`, a file; default: built-in txt2img).
    pub workflow: Value,
    /// Shown as the model when the workflow names no checkpoint: the workflow file's stem.
    pub workflow_name: String,
    /// `COMFYUI_NODES` (boxed: it is large, and settings sit in an enum of providers).
    pub nodes: Box<NodeMap>,
    /// What an edit runs (`COMFYUI_EDIT_WORKFLOW`, else the built-in one on this checkpoint);
    /// `None`: this engine does not change pictures.
    pub edit: Option<EditGraph>,
    /// `COMFYUI_STEPS`: sampler steps, overriding the workflow's.
    pub steps: Option<u32>,
    /// `COMFYUI_PREVIEW_METHOD` (auto, latent2rgb, taesd, none, default): sent with every
    /// prompt, since the server's own default is no previews.
    pub preview_method: String,
    /// `COMFYUI_API_KEY` (Comfy Cloud): the `X-API-Key` header and `token` on the socket.
    /// Never logged (see the `Debug` impl).
    pub api_key: Option<String>,
    /// `COMFYUI_TIMEOUT_SECS` (default 600): how long one image may take.
    pub timeout: Duration,
    /// How long a job waits for the socket before saying the engine is unreachable.
    pub connect_wait: Duration,
    /// Reconnect backoff, doubling from `reconnect_min` up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// A job whose engine stays unreachable this long fails with a network error.
    pub unreachable_grace: Duration,
    /// A job that hears nothing for this long asks the engine how it stands (sockets have
    /// been seen to stall silently).
    pub quiet_poll: Duration,
    /// Deadline of one HTTP request.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ComfyUiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComfyUiSettings")
            .field("base_url", &self.base_url)
            .field("workflow", &self.workflow_name)
            .field("nodes", &self.nodes)
            .field("edit", &self.edit.as_ref().map(|e| &e.nodes))
            .field("steps", &self.steps)
            .field("preview_method", &self.preview_method)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ComfyUiSettings {
    /// The built-in workflow against `base_url`, every knob at its default.
    pub fn new(base_url: impl Into<String>) -> Self {
        let workflow = serde_json::from_str(DEFAULT_WORKFLOW).unwrap_or(Value::Null);
        let nodes = Box::new(NodeMap::parse("COMFYUI_NODES", DEFAULT_NODES).unwrap_or_else(|_| NodeMap::empty()));
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            workflow,
            workflow_name: "txt2img".into(),
            nodes,
            edit: EditGraph::builtin(DEFAULT_CHECKPOINT).ok(),
            steps: None,
            preview_method: "auto".into(),
            api_key: None,
            timeout: Duration::from_secs(600),
            connect_wait: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(10),
            unreachable_grace: Duration::from_secs(30),
            quiet_poll: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }

    /// `None` when `COMFYUI_URL` is unset; an error naming the variable when one is wrong.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(url) = get("COMFYUI_URL") else { return Ok(None) };
        let mut s = Self::new(url);
        if let Some(path) = get("COMFYUI_WORKFLOW") {
            let map = get("COMFYUI_NODES");
            let example = "prompt=6.text,seed=3.seed,width=5.width,height=5.height";
            let (graph, nodes) = workflow::load("COMFYUI_WORKFLOW", &path, "COMFYUI_NODES", map.as_deref(), example)?;
            s.workflow = graph;
            s.nodes = Box::new(nodes);
            s.workflow_name = std::path::Path::new(&path)
                .file_stem()
                .map_or_else(|| path.clone(), |stem| stem.to_string_lossy().into_owned());
        } else if let Some(map) = get("COMFYUI_NODES") {
            s.nodes = Box::new(NodeMap::parse("COMFYUI_NODES", &map)?);
        }
        let checkpoint = get("COMFYUI_CHECKPOINT");
        if let Some(name) = &checkpoint {
            let at = s.nodes.checkpoint.clone().ok_or(
                "COMFYUI_CHECKPOINT needs checkpoint=<node>.<input> in COMFYUI_NODES (the workflow has no single checkpoint loader)",
            )?;
            workflow::set_input(&mut s.workflow, &at, Value::from(name.as_str()));
        }
        s.edit = EditGraph::from_env(&get, checkpoint.or_else(|| s.checkpoint()).as_deref())?;
        if let Some(steps) = get("COMFYUI_STEPS") {
            s.steps = Some(
                steps
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or(format!("COMFYUI_STEPS: {steps:?} is not a step count (1–1000)"))?,
            );
        }
        if let Some(method) = get("COMFYUI_PREVIEW_METHOD") {
            if !PREVIEW_METHODS.contains(&method.as_str()) {
                return Err(format!("COMFYUI_PREVIEW_METHOD: {method:?} is not one of {}", PREVIEW_METHODS.join(", ")));
            }
            s.preview_method = method;
        }
        s.api_key = get("COMFYUI_API_KEY");
        if let Some(secs) = get("COMFYUI_TIMEOUT_SECS") {
            let secs = secs
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("COMFYUI_TIMEOUT_SECS: {secs:?} is not a number of seconds"))?;
            s.timeout = Duration::from_secs(secs);
        }
        s.validate()?;
        Ok(Some(s))
    }

    /// Checks the address, the workflow's shape and that every mapped node and input exists.
    pub fn validate(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| format!("COMFYUI_URL: {:?}: {e}", self.base_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("COMFYUI_URL: {:?} must start with http:// or https://", self.base_url));
        }
        if self.steps.is_some() && self.nodes.steps.is_none() {
            return Err("COMFYUI_STEPS needs steps=<node>.<input> in COMFYUI_NODES".into());
        }
        workflow::check("COMFYUI_NODES", &self.workflow, &self.nodes)?;
        self.edit.as_ref().map_or(Ok(()), EditGraph::check)
    }

    /// The checkpoint the workflow loads, else the workflow's name.
    pub fn model(&self) -> String {
        self.checkpoint().unwrap_or_else(|| self.workflow_name.clone())
    }

    /// The checkpoint the workflow loads, where it names one.
    fn checkpoint(&self) -> Option<String> {
        let mapped = self.nodes.checkpoint.as_ref().and_then(|at| workflow::input(&self.workflow, at));
        let single = || workflow::checkpoint_loader(&self.workflow).and_then(|at| workflow::input(&self.workflow, &at));
        mapped.or_else(single).and_then(|v| v.as_str().map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_is_configured_without_a_url() {
        assert!(matches!(ComfyUiSettings::from_env(&env(&[])), Ok(None)));
    }

    #[test]
    fn the_built_in_workflow_is_valid_with_its_own_map() {
        let s =
            ComfyUiSettings::from_env(&env(&[("COMFYUI_URL", "http://127.0.0.1:8188/")])).expect("valid").expect("set");
        assert_eq!(s.base_url, "http://127.0.0.1:8188");
        assert_eq!(s.model(), DEFAULT_CHECKPOINT);
        assert_eq!(s.nodes.prompt, InputRef { node: "6".into(), input: "text".into() });
        assert_eq!((s.preview_method.as_str(), s.timeout, s.steps), ("auto", Duration::from_secs(600), None));
        assert!(s.edit.is_some(), "edits run the built-in img2img graph");
    }

    #[test]
    fn checkpoint_steps_and_key_are_read() {
        let s = ComfyUiSettings::from_env(&env(&[
            ("COMFYUI_URL", "https://cloud.example"),
            ("COMFYUI_CHECKPOINT", "dreamshaper_8.safetensors"),
            ("COMFYUI_STEPS", "12"),
            ("COMFYUI_PREVIEW_METHOD", "taesd"),
            ("COMFYUI_API_KEY", "secret-key"),
            ("COMFYUI_TIMEOUT_SECS", "90"),
        ]))
        .expect("valid")
        .expect("set");
        assert_eq!(s.model(), "dreamshaper_8.safetensors");
        let edit = s.edit.as_ref().expect("edits");
        assert_eq!(edit.workflow["4"]["inputs"]["ckpt_name"], "dreamshaper_8.safetensors", "edits load it too");
        assert_eq!((s.steps, s.preview_method.as_str(), s.timeout), (Some(12), "taesd", Duration::from_secs(90)));
        assert!(!format!("{s:?}").contains("secret-key"), "the key is never logged");
    }

    #[test]
    fn node_maps_parse_and_name_their_mistakes() {
        let map = NodeMap::parse("COMFYUI_NODES", "prompt=6.text, seed=3.seed ,width=12:5.width").expect("parses");
        assert_eq!(map.width, Some(InputRef { node: "12:5".into(), input: "width".into() }));
        assert!(NodeMap::parse("COMFYUI_NODES", "seed=3.seed").expect_err("no prompt").contains("prompt"));
        assert!(NodeMap::parse("COMFYUI_NODES", "prompt=6").expect_err("no input").contains("node.input"));
        assert!(NodeMap::parse("COMFYUI_NODES", "prompt=6.text,colour=2.x").expect_err("unknown").contains("colour"));
    }

    #[test]
    fn a_map_naming_a_missing_node_or_input_fails_the_start() {
        let bad_node = env(&[("COMFYUI_URL", "http://h:8188"), ("COMFYUI_NODES", "prompt=60.text")]);
        let e = ComfyUiSettings::from_env(&bad_node).expect_err("missing node");
        assert!(e.contains("60") && e.contains("prompt"), "{e}");
        let bad_input = env(&[("COMFYUI_URL", "http://h:8188"), ("COMFYUI_NODES", "prompt=6.txt")]);
        let e = ComfyUiSettings::from_env(&bad_input).expect_err("missing input");
        assert!(e.contains("txt") && e.contains("CLIPTextEncode"), "{e}");
    }

    #[test]
    fn wrong_values_name_their_variable() {
        for (name, value) in [
            ("COMFYUI_URL", "ftp://x"),
            ("COMFYUI_STEPS", "many"),
            ("COMFYUI_PREVIEW_METHOD", "fancy"),
            ("COMFYUI_TIMEOUT_SECS", "0"),
            ("COMFYUI_WORKFLOW", "/nonexistent/workflow.json"),
        ] {
            let pairs = if name == "COMFYUI_URL" {
                vec![(name, value)]
            } else {
                vec![("COMFYUI_URL", "http://h:8188"), (name, value)]
            };
            let e = ComfyUiSettings::from_env(&env(&pairs)).expect_err(name);
            assert!(e.contains(name), "{e}");
        }
    }
}
