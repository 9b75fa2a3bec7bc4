use super::*;

fn image(s: &str) -> Intent {
    Intent::Image { subject: s.into() }
}

#[test]
fn plain_requests_name_their_subject() {
    assert_eq!(classify("Can you create an image of a cat?", false, false), image("a cat"));
    assert_eq!(classify("draw me a spaceship", false, false), image("a spaceship"));
    assert_eq!(classify("I'd love a picture of a foggy harbor", false, false), image("a foggy harbor"));
    assert_eq!(classify("make me a logo for my bakery", false, false), image("a logo for my bakery"));
    assert_eq!(
        classify("Hey, could you please paint a sunset over the sea for me?", false, false),
        image("a sunset over the sea")
    );
}

#[test]
fn questions_text_and_figures_of_speech_are_not_requests() {
    for text in [
        "how do I draw better hands?",
        "what is an image format?",
        "describe a sunset to me",
        "let's draw a conclusion",
        "can you make images?",
        "I took a picture of my cat",
        "give me an idea for a painting",
        "I want to paint my room blue",
    ] {
        assert_eq!(classify(text, false, false), Intent::None, "{text}");
    }
}

#[test]
fn context_and_refinement_depend_on_the_thread() {
    assert_eq!(classify("show me what that would look like", true, false), Intent::Context);
    assert_eq!(classify("show me what that would look like", false, false), Intent::None);
    assert_eq!(classify("make it more vibrant", false, true), Intent::Refine { change: "more vibrant".into() });
    assert_eq!(classify("make it more vibrant", false, false), Intent::None);
    assert_eq!(
        classify("change the sky to purple", false, true),
        Intent::Refine { change: "the sky to purple".into() }
    );
    assert_eq!(classify("thanks, I love it!", false, true), Intent::None);
}
