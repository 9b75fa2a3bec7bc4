//! The two tools the chat model is offered, as ChatGPT and LibreChat offer theirs: a new
//! picture (`generate_image`) or a change to the thread's last one (`edit_last_image`). The
//! model writes the whole prompt; the shape and the style are optional. What it sends back is
//! read strictly: an unknown tool, unreadable arguments or an empty prompt is an error, and
//! the caller falls back to the local classifier instead of guessing.

use crate::assistant::Aspect;

use super::wire::RawCall;

/// A prompt longer than this is cut at a word boundary.
pub const MAX_PROMPT_CHARS: usize = 1000;
const MAX_STYLE_CHARS: usize = 60;

/// Which tool was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageTool {
    Generate,
    EditLast,
}

impl ImageTool {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Generate => "generate_image",
            Self::EditLast => "edit_last_image",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Self::Generate, Self::EditLast].into_iter().find(|t| t.name() == name)
    }
}

/// A picture the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCall {
    pub tool: ImageTool,
    pub prompt: String,
    pub aspect: Option<Aspect>,
    pub style: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error("the model called an unknown tool `{0}`")]
    Unknown(String),
    #[error("the model's arguments are not readable: {0}")]
    Arguments(String),
    #[error("the model's arguments were too long")]
    TooLong,
    #[error("the model asked for a picture without a prompt")]
    NoPrompt,
}

#[derive(serde::Deserialize)]
struct Arguments {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    style: Option<String>,
}

/// The tools, in the chat completions `tools` format.
pub fn definitions() -> serde_json::Value {
    let parameters = |prompt: &str| {
        serde_json::json!({
            "type": "object",
            "properties": {
                "prompt": { "type": "string", "description": prompt },
                "size": {
                    "type": "string",
                    "enum": ["square", "landscape", "portrait"],
                    "description": "The picture's shape; leave it out unless the user asked for one."
                },
                "style": {
                    "type": "string",
                    "description": "An art style the user asked for (for example watercolor, pixel art); leave it out otherwise."
                }
            },
            "required": ["prompt"],
            "additionalProperties": false
        })
    };
    serde_json::json!([
        {
            "type": "function",
            "function": {
                "name": ImageTool::Generate.name(),
                "description": "Make a new picture now. Call it only when the user wants a picture made, \
                    not when they ask about drawing, art or pictures in general.",
                "parameters": parameters("What the picture shows, in one or two sentences, in English, \
                    taking the idea from the conversation when the user points at it (\"draw that\").")
            }
        },
        {
            "type": "function",
            "function": {
                "name": ImageTool::EditLast.name(),
                "description": "Redo the last picture of this conversation with a change the user asked for \
                    (darker, add a hat, another take, fix the text in it).",
                "parameters": parameters("The whole revised prompt: the last picture's prompt with the \
                    change applied.")
            }
        }
    ])
}

/// Reads a call the model made.
pub fn parse(call: &RawCall) -> Result<ImageCall, ToolError> {
    let tool = ImageTool::from_name(&call.name).ok_or_else(|| ToolError::Unknown(call.name.clone()))?;
    if call.overflowed {
        return Err(ToolError::TooLong);
    }
    let arguments = if call.arguments.trim().is_empty() { "{}" } else { &call.arguments };
    let args: Arguments = serde_json::from_str(arguments).map_err(|e| ToolError::Arguments(e.to_string()))?;
    let prompt = bounded(&args.prompt.split_whitespace().collect::<Vec<_>>().join(" "), MAX_PROMPT_CHARS);
    if prompt.is_empty() {
        return Err(ToolError::NoPrompt);
    }
    let aspect = match args.size.as_deref().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("square") => Some(Aspect::Square),
        Some("landscape" | "wide") => Some(Aspect::Wide),
        Some("portrait" | "tall") => Some(Aspect::Tall),
        _ => None,
    };
    let style = args
        .style
        .map(|s| bounded(&s.split_whitespace().collect::<Vec<_>>().join(" "), MAX_STYLE_CHARS))
        .filter(|s| !s.is_empty());
    Ok(ImageCall { tool, prompt, aspect, style })
}

/// `text` within `max` characters, cut at a word boundary when it is longer.
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rsplit_once(' ') {
        Some((head, _)) if !head.is_empty() => head.to_string(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> RawCall {
        RawCall { id: "c".into(), name: name.into(), arguments: arguments.into(), overflowed: false }
    }

    #[test]
    fn calls_are_read_with_their_shape_and_style() {
        let c = parse(&call(
            "generate_image",
            r#"{"prompt":"  a lighthouse\n in a storm ","size":"landscape","style":"oil painting"}"#,
        ));
        assert_eq!(
            c,
            Ok(ImageCall {
                tool: ImageTool::Generate,
                prompt: "a lighthouse in a storm".into(),
                aspect: Some(Aspect::Wide),
                style: Some("oil painting".into())
            })
        );
        let c = parse(&call("edit_last_image", r#"{"prompt":"a fox at night","size":"huge"}"#)).expect("read");
        assert_eq!((c.tool, c.aspect, c.style), (ImageTool::EditLast, None, None));
    }

    #[test]
    fn bad_calls_are_errors_not_guesses() {
        assert_eq!(parse(&call("delete_everything", "{}")), Err(ToolError::Unknown("delete_everything".into())));
        assert!(matches!(parse(&call("generate_image", "{\"prompt\": \"a li")), Err(ToolError::Arguments(_))));
        assert!(matches!(parse(&call("generate_image", "[1,2]")), Err(ToolError::Arguments(_))));
        assert_eq!(parse(&call("generate_image", r#"{"prompt":"   "}"#)), Err(ToolError::NoPrompt));
        assert_eq!(parse(&call("generate_image", "")), Err(ToolError::NoPrompt));
        let mut long = call("generate_image", "{}");
        long.overflowed = true;
        assert_eq!(parse(&long), Err(ToolError::TooLong));
    }

    #[test]
    fn prompts_and_styles_are_bounded() {
        let words = "word ".repeat(400);
        let c =
            parse(&call("generate_image", &serde_json::json!({"prompt": words, "style": "s".repeat(200)}).to_string()))
                .expect("read");
        assert!(c.prompt.chars().count() <= MAX_PROMPT_CHARS && c.prompt.ends_with("word"), "{}", c.prompt.len());
        assert_eq!(c.style.map(|s| s.chars().count()), Some(MAX_STYLE_CHARS));
    }

    #[test]
    fn the_definitions_name_both_tools() {
        let tools = definitions();
        let names: Vec<&str> =
            tools.as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
        assert_eq!(names, ["generate_image", "edit_last_image"]);
    }
}
