//! The rules for usernames and passwords and the reasons a sign-up or log-in is refused,
//! shared so the server decides and the page explains with the same words.

/// Why an account form was refused; travels as `?error=<code>` on the redirect back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProblem {
    UsernameTaken,
    BadUsername,
    ShortPassword,
    BadCredentials,
    /// The current password given to change it is not the account's.
    WrongPassword,
    Unavailable,
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

impl AuthProblem {
    pub fn code(self) -> &'static str {
        match self {
            Self::UsernameTaken => "taken",
            Self::BadUsername => "username",
            Self::ShortPassword => "password",
            Self::BadCredentials => "credentials",
            Self::WrongPassword => "current",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::UsernameTaken,
            Self::BadUsername,
            Self::ShortPassword,
            Self::BadCredentials,
            Self::WrongPassword,
            Self::Unavailable,
        ]
        .into_iter()
        .find(|p| p.code() == code)
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::UsernameTaken => "That username is taken. Try another one.",
            Self::BadUsername => "Usernames are 3 to 32 letters, digits, dots, dashes or underscores.",
            Self::ShortPassword => "Passwords need 8 to 128 characters.",
            Self::BadCredentials => "Wrong username or password.",
            Self::WrongPassword => "Your current password is not right.",
            Self::Unavailable => "Something went wrong on our side. Please try again.",
        }
    }
}

/// Trims and lower-cases a username, so "Ada" and "ada " are one account.
pub fn normalize_username(raw: &str) -> Result<String, AuthProblem> {
    let name = raw.trim().to_lowercase();
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if (3..=32).contains(&name.len()) && ok_chars {
        Ok(name)
    } else {
        Err(AuthProblem::BadUsername)
    }
}

pub fn check_new_password(password: &str) -> Result<(), AuthProblem> {
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AuthProblem::ShortPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(normalize_username("  Ada.L "), Ok("ada.l".into()));
    }

    #[test]
    fn odd_usernames_are_refused() {
        for bad in ["ab", "", "has space", "émile", &"x".repeat(33), "semi;colon"] {
            assert_eq!(normalize_username(bad), Err(AuthProblem::BadUsername), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert_eq!(check_new_password("1234567"), Err(AuthProblem::ShortPassword));
        assert_eq!(check_new_password("12345678"), Ok(()));
        assert!(check_new_password(&"p".repeat(129)).is_err());
    }

    #[test]
    fn every_problem_round_trips_through_its_code() {
        for p in [
            AuthProblem::UsernameTaken,
            AuthProblem::BadUsername,
            AuthProblem::ShortPassword,
            AuthProblem::BadCredentials,
            AuthProblem::Unavailable,
        ] {
            assert_eq!(AuthProblem::from_code(p.code()), Some(p));
        }
        assert_eq!(AuthProblem::from_code("nope"), None);
    }
}
