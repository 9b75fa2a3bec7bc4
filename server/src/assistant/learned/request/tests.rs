use super::*;

#[test]
fn requests_lose_their_asking_words_even_misspelt() {
    assert_eq!(subject_of_request("cna u drwa a lighthouse in a storm plz"), "a lighthouse in a storm");
    assert_eq!(subject_of_request("pls generat a pictuer of a red fox"), "a red fox");
    assert_eq!(subject_of_request("ok so /imagine a cat"), "a cat");
    assert_eq!(subject_of_request("lighthouse, storm, oil painting. image."), "lighthouse storm oil painting");
    assert_eq!(subject_of_request("could you put together an image of a shark in a bathtub?"), "a shark in a bathtub");
    assert_eq!(subject_of_request("draw that one!"), "");
    assert_eq!(subject_of_request("do it"), "");
}

#[test]
fn refinements_keep_only_the_change() {
    assert_eq!(change_of_request("could you make it a bit darker?"), "a bit darker");
    assert_eq!(change_of_request("what if it were winter?"), "winter");
    assert_eq!(change_of_request("darker"), "darker");
    assert_eq!(change_of_request("how about red instead?"), "red instead");
}

#[test]
fn misspellings_within_one_edit_are_asking_words() {
    assert!(is_asking("drwa") && is_asking("pictuer") && is_asking("generat"));
    assert!(!is_asking("lighthouse") && !is_asking("drawer"));
}
