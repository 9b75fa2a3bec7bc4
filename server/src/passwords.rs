//! Argon2id password hashes in the PHC string format, each thread reusing one work area.
//!
//! The format and parameters are `password-auth`'s (Argon2id, 19 MiB, two passes, one lane),
//! so hashes stored before this module existed verify unchanged. What differs is the memory:
//! `password-auth` allocates the 19 MiB afresh for every hash, and glibc, which raises its
//! mmap threshold after the first such block is freed, keeps the later ones in its heaps: a
//! burst of sign-ups left hundreds of MiB resident for good. Here each hashing thread keeps
//! one area and hashes into it (`docs/benchmarks.md`, the sign-ups row).

use std::cell::RefCell;

use argon2::password_hash::{Output, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand_core::{OsRng, RngCore};

thread_local! {
    /// This thread's Argon2 memory: grown to the largest hash it has made, never shrunk;
    /// at most the default cost's 19 MiB (see `hash_into`).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// A new hash of `password` with a random salt, as a PHC string (`$argon2id$v=19$…`).
/// `None` only if Argon2 itself refuses (a password past 4 GiB).
pub fn hash(password: &[u8]) -> Option<String> {
    // The salt's bytes hash; its base64 goes in the string (what `SaltString::generate` does).
    let mut raw_salt = [0u8; Salt::RECOMMENDED_LENGTH];
    OsRng.fill_bytes(&mut raw_salt);
    let salt = SaltString::encode_b64(&raw_salt).ok()?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(Algorithm::Argon2id, Version::V0x13, params.clone(), password, &raw_salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().ok()?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(phc.to_string())
}

/// Whether `password` is the one `phc` was made from. Any Argon2 variant, version and
/// parameters the string names; anything unreadable is a mismatch.
pub fn verify(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else { return false };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    if hash_into(algorithm, version, params, password, raw_salt, &mut out).is_none() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

fn hash_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    if blocks > Params::DEFAULT.block_count() {
        // Only a hash made elsewhere with a larger cost: served, but its memory is not kept.
        let mut memory = vec![Block::default(); blocks];
        return argon2.hash_password_into_with_memory(password, salt, out, &mut memory).ok();
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks]).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::{hash, verify};

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let phc = hash(b"correct horse").expect("a hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(b"correct horse", &phc));
        assert!(!verify(b"correct horsf", &phc));
        assert_ne!(hash(b"correct horse").expect("a hash"), phc, "each hash has its own salt");
    }

    #[test]
    fn hashes_from_password_auth_verify_and_ours_verify_there() {
        let theirs = password_auth::generate_hash("stored before");
        assert!(verify(b"stored before", &theirs));
        assert!(!verify(b"stored after", &theirs));
        let ours = hash(b"made here").expect("a hash");
        assert!(password_auth::verify_password("made here", &ours).is_ok());
        assert!(password_auth::verify_password("made there", &ours).is_err());
    }

    #[test]
    fn other_parameters_and_variants_are_read_from_the_string() {
        // RFC 9106-style small parameters, argon2i and argon2d, made by the reference crate.
        use argon2::password_hash::{PasswordHasher, SaltString};
        for algorithm in [argon2::Algorithm::Argon2i, argon2::Algorithm::Argon2d, argon2::Algorithm::Argon2id] {
            let params = argon2::Params::new(64, 3, 2, Some(24)).expect("valid parameters");
            let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("a salt");
            let reference = argon2::Argon2::new(algorithm, argon2::Version::V0x10, params)
                .hash_password(b"small", &salt)
                .expect("the reference hash")
                .to_string();
            assert!(verify(b"small", &reference), "{reference}");
            assert!(!verify(b"smalL", &reference), "{reference}");
        }
    }

    #[test]
    fn unreadable_strings_are_a_mismatch_not_a_panic() {
        for phc in [
            "",
            "plain text",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=1,r=8,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!verify(b"x", phc), "{phc}");
        }
    }
}
